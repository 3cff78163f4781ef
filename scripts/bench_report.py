#!/usr/bin/env python3
"""Turns one scripts/bench results directory into a table, CSV files and an SVG plot.

Reads DIR/run.json (what was run) and the raw OSU-style outputs DIR/raw/MODE-nRANKS-rREP.txt,
takes the median over repetitions per mode and message size (or rank count), and writes
DIR/table.txt, DIR/table.csv (medians and ratios), DIR/samples.csv (every figure) and
DIR/plot.svg (log-log, one line per mode). Run it by hand to redraw an existing directory:

    scripts/bench_report.py results/put_latency-flush-allocate-20261125-150102

Standard library only: the SVG is written by hand.
"""
import csv
import json
import math
import re
import statistics
import sys
from html import escape
from pathlib import Path

OSU_ROW = re.compile(r"^\s*(\d+)((?:\s+-?[0-9.]+(?:[eE][-+]?\d+)?)+)\s*$")  # size, then one figure or more
SIZELESS_ROW = re.compile(r"^\s*(-?[0-9]*\.[0-9]+(?:[eE][-+]?\d+)?)\s*$")  # osu_barrier's lone figure
# Colour-blind-safe (Okabe-Ito) colours and distinct markers, so the plot reads in grey too.
MODE_STYLE = {
    "bare": ("#0072B2", "circle"),
    "tcp": ("#D55E00", "square"),
    "ivshmem": ("#009E73", "triangle"),
    "memcpy": ("#555555", "diamond"),
}
REFERENCE_MODES = ("memcpy",)  # drawn dashed: a bound to compare with, not an MPI mode


def read_osu_rows(path, column=1):
    """Size -> figure from one OSU-style output (a row without a size, as osu_barrier prints, is size 0);
    header, comment and stray lines are skipped. `column` picks the figure of rows with several
    (osu_mbw_mr: 1 MB/s, 2 messages/s)."""
    rows = {}
    for line in Path(path).read_text(errors="replace").splitlines():
        match = OSU_ROW.match(line)
        if match:
            figures = match.group(2).split()
            if len(figures) >= column:
                rows[int(match.group(1))] = float(figures[column - 1])
        elif match := SIZELESS_ROW.match(line):
            rows[0] = float(match.group(1))
    return rows


def sample_path(directory, mode, ranks, rep, suffix="txt"):
    return Path(directory) / "raw" / f"{mode}-n{ranks}-r{rep}.{suffix}"


def load_samples(directory, run):
    """{mode: {x: [figure per repetition]}}; x is the message size, or the rank count for scaling runs."""
    samples = {mode: {} for mode in run["modes"]}
    for mode in run["modes"]:
        for ranks in run["ranks"]:
            for rep in range(1, run["reps"] + 1):
                path = sample_path(directory, mode, ranks, rep)
                if not path.exists():
                    continue
                for size, value in read_osu_rows(path, run.get("column", 1)).items():
                    x = ranks if run["x_axis"] == "ranks" else size
                    samples[mode].setdefault(x, []).append(value)
    return samples


def medians_of(samples):
    return {mode: {x: statistics.median(values) for x, values in by_x.items()} for mode, by_x in samples.items()}


def ratio_definitions(run):
    """(column title, numerator mode, denominator mode): each ratio reads "bigger is better for ivshmem-rma"
    except ivshmem/bare latency, where below 1 means faster than bare metal."""
    vms = run["mode_labels"]["tcp"].split()[0]  # "TCP" or "UCX-sm"
    if run["measure"] == "latency":
        return [("ivshmem/bare", "ivshmem", "bare"), (f"{vms}/ivshmem", "tcp", "ivshmem")]
    ratios = [("ivshmem/bare", "ivshmem", "bare"), (f"ivshmem/{vms}", "ivshmem", "tcp")]
    if "memcpy" in run["modes"]:
        ratios.append(("ivshmem/memcpy", "ivshmem", "memcpy"))
    return ratios


def ratio(medians, numerator, denominator, x):
    top = medians.get(numerator, {}).get(x)
    bottom = medians.get(denominator, {}).get(x)
    if top is None or not bottom:
        return None
    return top / bottom


def size_label(size):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def figure_text(value):
    if value is None:
        return "-"
    if abs(value) < 1:
        return f"{value:.3f}"
    if abs(value) < 10:
        return f"{value:.2f}"
    if abs(value) < 1000:
        return f"{value:.1f}"
    return f"{value:.0f}"


def ratio_text(value):
    if value is None:
        return "-"
    if value < 0.1:
        return f"{value:.3f}x"
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x" if value < 100 else f"{value:.0f}x"


def unit_of(run):
    return {"latency": "us", "rate": "messages/s"}.get(run["measure"], "MB/s")


def title_parts(run):
    """(what was measured, under which conditions): one table title, or the plot's two title lines."""
    repetitions = f"median of {run['reps']} run{'s' if run['reps'] != 1 else ''}"
    headline = f"{run['what']} ({unit_of(run)})"
    if run["x_axis"] == "ranks":
        return headline, f"{', '.join(str(r) for r in run['ranks'])} ranks, {repetitions}"
    if run.get("sync") is None:  # a collective: no window, no synchronization
        return headline, f"{run['ranks'][0]} ranks, {repetitions}"
    return headline, f"{run['sync']} sync, MPI_Win_{run['window']} window, {run['ranks'][0]} ranks, {repetitions}"


def title_of(run):
    return ", ".join(title_parts(run))


def table_rows(run, medians):
    xs = sorted(set().union(*(by_x.keys() for by_x in medians.values())))
    ratios = ratio_definitions(run)
    rows = []
    for x in xs:
        label = str(x) if run["x_axis"] == "ranks" else size_label(x)
        figures = [medians[mode].get(x) for mode in run["modes"]]
        ratio_values = [ratio(medians, top, bottom, x) for _, top, bottom in ratios]
        rows.append((x, label, figures, ratio_values))
    return rows


def format_table(run, rows):
    ratios = ratio_definitions(run)
    header = ["ranks" if run["x_axis"] == "ranks" else "size"]
    header += [run["mode_labels"][mode] for mode in run["modes"]] + [title for title, _, _ in ratios]
    lines = [[label] + [figure_text(v) for v in figures] + [ratio_text(v) for v in ratio_values]
             for _, label, figures, ratio_values in rows]
    widths = [max(len(line[i]) for line in [header] + lines) for i in range(len(header))]
    text = [title_of(run)]
    text += ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in [header] + lines]
    return "\n".join(text) + "\n"


def write_csvs(directory, run, samples, rows):
    ratios = ratio_definitions(run)
    x_name = "ranks" if run["x_axis"] == "ranks" else "size_bytes"
    with open(Path(directory) / "table.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([x_name] + [f"{mode}_{unit_of(run)}" for mode in run["modes"]] + [t for t, _, _ in ratios])
        for x, _, figures, ratio_values in rows:
            writer.writerow([x] + ["" if v is None else f"{v:.6g}" for v in figures + ratio_values])
    with open(Path(directory) / "samples.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["mode", x_name, "repetition_index", unit_of(run)])
        for mode, by_x in samples.items():
            for x in sorted(by_x):
                for index, value in enumerate(by_x[x], 1):
                    writer.writerow([mode, x, index, value])


# ---- SVG ----

def log_ticks(low, high):
    """Major ticks at powers of ten covering [low, high]; minor ticks at 2..9 times them."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if first == last:
        last += 1
    majors = [10.0 ** e for e in range(first, last + 1)]
    minors = [m * k for m in majors[:-1] for k in range(2, 10)]
    return majors, minors


def number_label(value):
    """Plain numbers with spaced thousands from 0.001 to 1 000 000, powers of ten beyond."""
    if value > 1e6 or value < 1e-3:
        exponent = round(math.log10(value))
        if math.isclose(value, 10.0 ** exponent, rel_tol=1e-9):
            return f"1e{exponent}"
    if value >= 1:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:g}"


def byte_label(size):
    for unit, scale in (("M", 1 << 20), ("K", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def marker(shape, x, y, colour, tooltip):
    title = f"<title>{escape(tooltip)}</title>"
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">{title}</circle>'
    if shape == "square":
        return f'<rect x="{x - 3.6:.1f}" y="{y - 3.6:.1f}" width="7.2" height="7.2" fill="{colour}">{title}</rect>'
    if shape == "diamond":
        return (f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}" '
                f'fill="{colour}">{title}</polygon>')
    return (f'<polygon points="{x:.1f},{y - 4.8:.1f} {x - 4.6:.1f},{y + 3.4:.1f} {x + 4.6:.1f},{y + 3.4:.1f}" '
            f'fill="{colour}">{title}</polygon>')


def dash_of(mode):
    return ' stroke-dasharray="6 4"' if mode in REFERENCE_MODES else ""


def render_svg(run, medians):
    width, height = 820, 540
    left, right, top, bottom = 86, 24, 112, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    points = {mode: sorted((x, y) for x, y in medians[mode].items() if y > 0) for mode in run["modes"]}
    all_x = [x for series in points.values() for x, _ in series]
    all_y = [y for series in points.values() for _, y in series]
    if not all_x:
        return None
    x_low, x_high = min(all_x), max(all_x)
    if x_low == x_high:
        x_low, x_high = x_low / 2, x_high * 2
    margin = (x_high / x_low) ** 0.03  # 3 % of the width on each side: end markers clear the frame
    x_low, x_high = x_low / margin, x_high * margin
    y_majors, y_minors = log_ticks(min(all_y), max(all_y))
    y_low, y_high = y_majors[0], y_majors[-1]

    def px(x):
        return left + (math.log(x) - math.log(x_low)) / (math.log(x_high) - math.log(x_low)) * plot_w

    def py(y):
        return top + plot_h - (math.log(y) - math.log(y_low)) / (math.log(y_high) - math.log(y_low)) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
           f'{escape(title_parts(run)[0])}</text>',
           f'<text x="{width / 2}" y="44" text-anchor="middle" font-size="13">{escape(title_parts(run)[1])}</text>']
    # Grid: light minor lines, darker decades, then the frame.
    for y in y_minors:
        if y_low < y < y_high:
            out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eeeeee"/>')
    for y in y_majors:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#cccccc"/>')
        out.append(f'<text x="{left - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{number_label(y)}</text>')
    if len(y_majors) <= 3:  # a narrow range: label 2 and 5 too, so the reader has more than two numbers
        for y in y_minors:
            if y_low < y < y_high and round(y / 10 ** math.floor(math.log10(y))) in (2, 5):
                out.append(f'<text x="{left - 8}" y="{py(y) + 4:.1f}" text-anchor="end" fill="#666666">'
                           f'{number_label(y)}</text>')
    x_ticks = sorted(set(all_x))
    step = max(1, math.ceil(len(x_ticks) / 12))  # at most about 12 labels along x
    for index, x in enumerate(x_ticks):
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{top + plot_h}" stroke="#f2f2f2"/>')
        if index % step == 0 or index == len(x_ticks) - 1:
            text = str(x) if run["x_axis"] == "ranks" else byte_label(x)
            out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top + plot_h}" y2="{top + plot_h + 5}" '
                       f'stroke="#333333"/>')
            out.append(f'<text x="{px(x):.1f}" y="{top + plot_h + 19}" text-anchor="middle">{text}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333333"/>')
    x_title = "ranks (log scale)" if run["x_axis"] == "ranks" else "message size (bytes, log scale)"
    per = "call" if run.get("sync") is None else "epoch"  # collectives have no epochs
    y_title = (f"latency per {per} (us, log scale)" if run["x_axis"] == "ranks"
               else "latency (us, log scale)" if run["measure"] == "latency"
               else "message rate (messages/s, log scale)" if run["measure"] == "rate"
               else "bandwidth (MB/s, log scale)")
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 18}" text-anchor="middle" font-size="13">{x_title}</text>')
    out.append(f'<text transform="translate(22 {top + plot_h / 2}) rotate(-90)" text-anchor="middle" '
               f'font-size="13">{y_title}</text>')
    # Lines, then markers with tooltips (hover in a browser shows the figure).
    for mode in run["modes"]:
        colour, shape = MODE_STYLE[mode]
        series = points[mode]
        if len(series) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in series)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash_of(mode)}/>')
        for x, y in series:
            where = f"{x} ranks" if run["x_axis"] == "ranks" else size_label(x)
            out.append(marker(shape, px(x), py(y), colour,
                              f"{run['mode_labels'][mode]}, {where}: {figure_text(y)} {unit_of(run)}"))
    # Legend in a row between title and plot, where it can never cover a line.
    legend_x = left
    for mode in run["modes"]:
        colour, shape = MODE_STYLE[mode]
        label = run["mode_labels"][mode]
        out.append(f'<line x1="{legend_x}" x2="{legend_x + 28}" y1="72" y2="72" stroke="{colour}" '
                   f'stroke-width="2"{dash_of(mode)}/>')
        out.append(marker(shape, legend_x + 14, 72, colour, label))
        out.append(f'<text x="{legend_x + 36}" y="76" font-size="13">{escape(label)}</text>')
        legend_x += 48 + 7.2 * len(label)
    note = run.get("plot_note")
    if note:
        out.append(f'<text x="{left}" y="98" font-size="11" fill="#555555">{escape(note)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def report(directory):
    """Writes table.txt, table.csv, samples.csv and plot.svg; returns the table text."""
    directory = Path(directory)
    run = json.loads((directory / "run.json").read_text())
    samples = load_samples(directory, run)
    medians = medians_of(samples)
    rows = table_rows(run, medians)
    table = format_table(run, rows)
    (directory / "table.txt").write_text(table)
    write_csvs(directory, run, samples, rows)
    svg = render_svg(run, medians)
    if svg:
        (directory / "plot.svg").write_text(svg)
    return table


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) == 2 else 2
    print(report(argv[1]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
