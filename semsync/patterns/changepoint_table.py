"""Critical values of the drift statistic (`semsync.patterns.changepoints`), simulated once.

`PRECOMPUTED[(min_segment, alpha)] = (lengths, critical values per length and persistence of
`PERSISTENCE_GRID`)` for the default minimum segments (days 7, weeks 4, months 3) at the default
false-alarm rate α = `ALPHA` (0.25 %), so that a worker does not spend seconds simulating on its
first call. Written by `python -m semsync.patterns.changepoint_table`; a test checks an entry
against the simulation.
"""

from __future__ import annotations

#: drift_detection's default false-alarm rate of a window's own detection
ALPHA = 0.0025

PRECOMPUTED: dict[tuple[int, float], tuple[tuple[int, ...], tuple[tuple[float, ...], ...]]] = {
    (7, 0.0025): (
        (15, 22, 32, 48, 71, 105, 156, 230, 340, 503, 744, 1100),
        (
         (7.898, 7.580, 6.452, 5.924, 5.924, 5.924),
         (9.731, 8.966, 8.534, 7.404, 7.336, 7.336),
         (11.301, 10.777, 10.284, 9.139, 8.916, 8.916),
         (12.808, 12.702, 11.963, 11.443, 10.712, 10.712),
         (13.666, 13.535, 14.258, 13.093, 12.506, 12.506),
         (14.669, 14.232, 14.121, 14.451, 13.620, 13.620),
         (15.320, 14.630, 14.049, 14.788, 14.586, 14.586),
         (15.101, 14.786, 15.151, 14.896, 15.428, 15.428),
         (15.317, 15.317, 15.395, 15.011, 16.115, 16.115),
         (15.575, 15.599, 15.610, 16.658, 16.328, 16.328),
         (16.181, 16.816, 16.366, 15.698, 17.018, 17.018),
         (17.248, 17.007, 16.125, 15.474, 17.313, 17.313),
        )),
    (4, 0.0025): (
        (9, 13, 21, 33, 51, 79, 123, 191, 296, 459, 710, 1100),
        (
         (15.949, 12.142, 10.225, 10.225, 10.225, 10.225),
         (12.253, 12.141, 9.150, 8.180, 8.180, 8.180),
         (12.042, 12.017, 9.977, 8.723, 8.697, 8.697),
         (13.170, 12.950, 12.145, 10.866, 10.426, 10.426),
         (13.695, 13.971, 13.269, 12.676, 12.010, 12.010),
         (14.146, 14.178, 14.357, 14.168, 13.356, 13.356),
         (14.948, 14.792, 15.524, 14.085, 14.364, 14.364),
         (15.849, 15.504, 15.305, 15.338, 14.731, 14.731),
         (16.245, 16.625, 15.102, 14.874, 15.239, 15.239),
         (16.877, 15.214, 15.198, 15.285, 16.304, 16.304),
         (16.024, 16.030, 16.731, 15.186, 16.625, 16.625),
         (17.537, 17.162, 16.125, 15.602, 17.313, 17.313),
        )),
    (3, 0.0025): (
        (7, 11, 17, 27, 44, 69, 110, 174, 276, 438, 694, 1100),
        (
         (35.631, 23.220, 22.095, 22.095, 22.095, 22.095),
         (15.750, 13.475, 11.603, 11.528, 11.528, 11.528),
         (12.639, 11.863, 9.784, 8.693, 8.693, 8.693),
         (13.984, 12.717, 11.537, 10.154, 10.041, 10.041),
         (14.102, 13.688, 13.310, 12.554, 12.014, 12.014),
         (14.765, 14.334, 14.231, 13.910, 13.287, 13.287),
         (14.543, 15.027, 15.768, 15.002, 14.356, 14.356),
         (15.532, 15.092, 15.077, 15.244, 15.459, 15.459),
         (16.803, 16.145, 15.093, 15.256, 15.653, 15.653),
         (15.733, 15.764, 15.201, 14.800, 16.134, 16.134),
         (15.533, 16.294, 15.732, 15.298, 16.827, 16.827),
         (17.537, 17.162, 16.213, 15.602, 17.313, 17.313),
        )),
}


def _write() -> None:  # pragma: no cover - run by hand when the statistic changes
    from pathlib import Path

    from semsync.patterns.changepoints import simulate_critical_values

    lines = []
    for min_segment in (7, 4, 3):
        lengths, critical = simulate_critical_values(min_segment, ALPHA)
        lengths_text = ", ".join(str(int(n)) for n in lengths)
        rows = "\n".join("         (" + ", ".join(f"{c:.3f}" for c in row) + ")," for row in critical)
        lines.append(f"    ({min_segment}, {ALPHA}): (\n        ({lengths_text}),\n        (\n{rows}\n        )),")
    path = Path(__file__)
    text = path.read_text()
    head = text[: text.index("PRECOMPUTED: dict")]
    tail = text[text.index("\n\ndef _write"):]
    table = "PRECOMPUTED: dict[tuple[int, float], tuple[tuple[int, ...], tuple[tuple[float, ...], ...]]] = {\n"
    path.write_text(head + table + "\n".join(lines) + "\n}\n" + tail)


if __name__ == "__main__":
    _write()
