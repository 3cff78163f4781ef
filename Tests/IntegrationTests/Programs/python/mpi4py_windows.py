"""mpi4py windows, for BindingTests.swift: MPI.Win.Allocate and MPI.Win.Create (over a
numpy array), each through fence Put/Get, lock/Put/unlock and a fence Accumulate(SUM).
Every rank checks its own bytes; rank 0 prints "PASS mpi4py_windows".

mpi4py 4.x calls MPI's large-count entry points (MPI_Win_allocate_c, MPI_Put_c, ...)
whenever the MPI library has them.

Window of every rank, in int32 (disp_unit 4):
  [0, K)    fence Put from the left neighbour (then Get back)
  [K, 2K)   lock/Put/unlock from the left neighbour
  [2K]      Accumulate(SUM) of rank+1 from every rank
"""
import sys

import numpy as np
from mpi4py import MPI

NAME = "mpi4py_windows"
K = 16
INTS = 2 * K + 1

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
right, left = (rank + 1) % size, (rank - 1) % size


def pattern(origin, target, round_):
    """Values naming who wrote them where, so a misplaced int is easy to trace."""
    return np.arange(K, dtype=np.int32) + round_ * 1000000 + origin * 10000 + target * 100


def check(found, expected, what):
    found, expected = np.asarray(found), np.asarray(expected)
    if not np.array_equal(found, expected):
        sys.stderr.write(f"FAIL {NAME} rank {rank}: {what}: expected {expected.tolist()}, found {found.tolist()}\n")
        sys.stderr.flush()
        comm.Abort(1)


def exercise(win, local, flavor):
    """The three epochs on `win`, whose memory on this rank is the int32 array `local`."""
    local[:] = -1
    local[2 * K] = 0

    win.Fence()
    sent = pattern(rank, right, 1)
    win.Put(sent, right, target=0)
    win.Fence()
    check(local[:K], pattern(left, rank, 1), f"{flavor}: fence Put from the left neighbour")
    fetched = np.full(K, -1, dtype=np.int32)
    win.Get(fetched, right, target=0)
    win.Fence(MPI.MODE_NOSUCCEED)
    check(fetched, sent, f"{flavor}: fence Get from the right neighbour")

    win.Lock(right, MPI.LOCK_EXCLUSIVE)
    win.Put(pattern(rank, right, 2), right, target=K)
    win.Unlock(right)
    comm.Barrier()
    win.Lock(rank, MPI.LOCK_SHARED)
    check(local[K:2 * K], pattern(left, rank, 2), f"{flavor}: lock/Put/unlock from the left neighbour")
    win.Unlock(rank)

    win.Fence(MPI.MODE_NOPRECEDE)
    contribution = np.array([rank + 1], dtype=np.int32)
    for target in range(size):
        win.Accumulate(contribution, target, target=2 * K, op=MPI.SUM)
    win.Fence(MPI.MODE_NOSUCCEED)
    check(local[2 * K:], [size * (size + 1) // 2], f"{flavor}: Accumulate(SUM) from every rank")


allocated = MPI.Win.Allocate(INTS * 4, disp_unit=4, comm=comm)
exercise(allocated, np.frombuffer(allocated.tomemory(), dtype=np.int32), "MPI.Win.Allocate")
allocated.Free()

private = np.empty(INTS, dtype=np.int32)
created = MPI.Win.Create(private, disp_unit=4, comm=comm)
exercise(created, private, "MPI.Win.Create")
created.Free()

comm.Barrier()
if rank == 0:
    print(f"PASS {NAME}", flush=True)
