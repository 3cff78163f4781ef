#!/usr/bin/env python3
"""Assembles scripts/demo's put_bench runs into one table per test.

Reads DIR/<mode>-<latency|bw>-<rep>.txt (OSU-style tables from put_bench) and, for
the ivshmem mode, the stats lines in the matching .err files. Prints, per message
size, the median over repetitions of each mode and the ratios that matter:
latency ivshmem/bare (near 1 is as good as bare metal) and tcp/ivshmem (the
speed-up over TCP between VMs); bandwidth ivshmem/bare and ivshmem/tcp.
Standard library only.
"""
import argparse
import re
import statistics
import sys
from pathlib import Path

MODES = ("bare-metal", "tcp", "ivshmem")
BANDWIDTH_SIZES = (8, 4096, 65536, 1 << 20, 4 << 20)
STATS_LINE = re.compile(r"^ivshmem-rma stats rank=(\d+) .*")


def read_table(path):
    """Size -> value from one OSU-style table; comment and malformed lines are skipped."""
    table = {}
    for line in path.read_text(errors="replace").splitlines():
        fields = line.split()
        if len(fields) == 2 and not line.startswith("#"):
            try:
                table[int(fields[0])] = float(fields[1])
            except ValueError:
                pass
    return table


def medians(directory, mode, kind):
    """Size -> median over the repetitions that produced a value."""
    samples = {}
    for path in sorted(directory.glob(f"{mode}-{kind}-*.txt")):
        for size, value in read_table(path).items():
            samples.setdefault(size, []).append(value)
    return {size: statistics.median(values) for size, values in samples.items()}


def region_use(directory):
    """Notes on ivshmem runs whose stats show puts that did not go through the region."""
    notes = []
    for path in sorted(directory.glob("ivshmem-*.err")):
        counts = {}
        for line in path.read_text(errors="replace").splitlines():
            if STATS_LINE.match(line):
                pairs = dict(field.split("=", 1) for field in line.split()[2:] if "=" in field)
                counts[pairs.get("rank")] = pairs
        rank0 = counts.get("0")
        if rank0 is None:
            notes.append(f"{path.name}: no stats line from rank 0 (was the library loaded?)")
        elif rank0.get("put_shm", "0") == "0" or rank0.get("put_mpi", "0") != "0":
            notes.append(f"{path.name}: rank 0 put_shm={rank0.get('put_shm')} put_mpi={rank0.get('put_mpi')}"
                         " (expected every put through the region)")
    return notes


def size_label(size):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def cell(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator == 0:
        return "-"
    return f"{numerator / denominator:.2f}x"


def print_table(title, header, rows):
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    print(title)
    for row in [header] + rows:
        print("  ".join(str(value).rjust(width) for value, width in zip(row, widths)))
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--sync", default="flush", help="synchronization the runs used (for the titles)")
    args = parser.parse_args()

    latency = {mode: medians(args.directory, mode, "latency") for mode in MODES}
    bandwidth = {mode: medians(args.directory, mode, "bw") for mode in MODES}
    repetitions = len(list(args.directory.glob("bare-metal-latency-*.txt")))

    sizes = sorted(set().union(*latency.values()))
    rows = []
    for size in sizes:
        bare, tcp, ivshmem = (latency[mode].get(size) for mode in MODES)
        rows.append([size_label(size), cell(bare), cell(tcp), cell(ivshmem), ratio(ivshmem, bare), ratio(tcp, ivshmem)])
    print_table(
        f"MPI_Put latency (us), {args.sync} synchronization, 2 ranks, median of {repetitions} runs",
        ["size", "bare-metal", "TCP (VMs)", "ivshmem-rma", "ivshmem/bare", "tcp/ivshmem"],
        rows,
    )

    rows = []
    for size in BANDWIDTH_SIZES:
        bare, tcp, ivshmem = (bandwidth[mode].get(size) for mode in MODES)
        rows.append([size_label(size), cell(bare, 0), cell(tcp, 0), cell(ivshmem, 0), ratio(ivshmem, bare),
                     ratio(ivshmem, tcp)])
    print_table(
        f"MPI_Put bandwidth (MB/s), {args.sync} synchronization, 2 ranks, median of {repetitions} runs",
        ["size", "bare-metal", "TCP (VMs)", "ivshmem-rma", "ivshmem/bare", "ivshmem/tcp"],
        rows,
    )

    for note in region_use(args.directory):
        print(f"note: {note}")
    if not sizes:
        print("no latency results found: every run failed? see the .err files", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
