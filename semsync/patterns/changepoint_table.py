"""Critical values of the drift statistic (`semsync.patterns.changepoints`), simulated once.

`PRECOMPUTED[(min_segment, alpha)] = (lengths, critical values per length and persistence of
`PERSISTENCE_GRID`)` for the default minimum segments (days 7, weeks 4, months 3) at the default
false-alarm rate α = 0.005, so that a worker does not spend seconds simulating on its first call. Written by
`python -m semsync.patterns.changepoint_table`; a test checks an entry against the simulation.
"""

from __future__ import annotations

PRECOMPUTED: dict[tuple[int, float], tuple[tuple[int, ...], tuple[tuple[float, ...], ...]]] = {
    (7, 0.005): (
        (15, 22, 32, 48, 71, 105, 156, 230, 340, 503, 744, 1100),
        (
         (7.171, 6.866, 5.964, 5.156, 5.149, 5.149),
         (8.994, 8.403, 8.036, 6.946, 6.598, 6.598),
         (10.311, 9.947, 9.851, 8.793, 7.815, 7.815),
         (11.913, 11.355, 11.343, 10.874, 9.535, 9.535),
         (12.711, 12.535, 12.944, 12.471, 11.675, 11.137),
         (13.475, 12.986, 12.911, 13.217, 12.994, 12.742),
         (14.982, 13.204, 13.121, 13.421, 13.458, 13.434),
         (13.880, 13.697, 13.823, 13.966, 14.091, 13.743),
         (13.867, 13.926, 13.573, 13.910, 14.509, 14.324),
         (14.523, 14.210, 14.298, 15.357, 14.805, 15.134),
         (14.390, 14.743, 14.727, 14.351, 14.832, 15.488),
         (15.355, 16.232, 15.106, 14.196, 15.311, 16.346),
        )),
    (4, 0.005): (
        (9, 13, 21, 33, 51, 79, 123, 191, 296, 459, 710, 1100),
        (
         (11.842, 9.069, 5.915, 5.613, 5.613, 5.613),
         (10.744, 9.587, 7.903, 6.386, 6.386, 6.386),
         (10.852, 10.692, 9.376, 8.071, 7.802, 7.802),
         (12.087, 12.136, 11.232, 10.342, 9.419, 9.419),
         (12.894, 13.151, 12.465, 12.195, 11.120, 11.120),
         (13.491, 13.351, 13.326, 13.405, 12.650, 12.230),
         (13.901, 13.435, 14.651, 13.408, 13.727, 13.493),
         (14.110, 14.201, 13.842, 14.244, 13.873, 13.755),
         (14.890, 14.965, 14.323, 13.486, 14.025, 14.077),
         (15.063, 14.335, 14.017, 14.218, 14.933, 15.325),
         (15.046, 14.820, 14.836, 13.944, 14.702, 14.884),
         (15.386, 16.233, 15.152, 14.225, 15.311, 16.346),
        )),
    (3, 0.005): (
        (7, 11, 17, 27, 44, 69, 110, 174, 276, 438, 694, 1100),
        (
         (20.899, 16.624, 18.117, 18.117, 18.117, 18.117),
         (13.293, 12.022, 8.749, 8.063, 8.063, 8.063),
         (11.249, 10.714, 9.038, 7.762, 7.669, 7.669),
         (12.738, 11.930, 11.059, 9.808, 9.071, 9.071),
         (13.402, 12.970, 12.765, 12.059, 10.580, 10.580),
         (13.656, 13.819, 13.501, 13.319, 12.374, 11.821),
         (13.618, 13.365, 14.371, 13.953, 13.502, 13.455),
         (14.692, 13.683, 13.652, 14.036, 14.284, 13.451),
         (15.513, 14.808, 13.734, 13.750, 14.598, 15.083),
         (14.553, 14.768, 14.547, 13.974, 14.925, 15.699),
         (14.598, 15.064, 14.475, 13.843, 14.614, 14.935),
         (15.386, 16.275, 15.152, 14.291, 15.311, 16.346),
        )),
}


def _write() -> None:  # pragma: no cover - run by hand when the statistic changes
    from pathlib import Path

    from semsync.patterns.changepoints import simulate_critical_values

    lines = []
    for min_segment in (7, 4, 3):
        lengths, critical = simulate_critical_values(min_segment, 0.005)
        lengths_text = ", ".join(str(int(n)) for n in lengths)
        rows = "\n".join("         (" + ", ".join(f"{c:.3f}" for c in row) + ")," for row in critical)
        lines.append(f"    ({min_segment}, 0.005): (\n        ({lengths_text}),\n        (\n{rows}\n        )),")
    path = Path(__file__)
    text = path.read_text()
    head = text[: text.index("PRECOMPUTED: dict")]
    tail = text[text.index("\n\ndef _write"):]
    table = "PRECOMPUTED: dict[tuple[int, float], tuple[tuple[int, ...], tuple[tuple[float, ...], ...]]] = {\n"
    path.write_text(head + table + "\n".join(lines) + "\n}\n" + tail)


if __name__ == "__main__":
    _write()
