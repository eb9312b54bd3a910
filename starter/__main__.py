from starter.cli import app

app(prog_name="python -m starter")
