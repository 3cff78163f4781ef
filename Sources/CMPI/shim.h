#include <mpi.h>

/* mpi.h spells these as casts of parenthesized literals, which Swift does not import. */
static const MPI_Op IVSHMEM_MPI_SUM = MPI_SUM;
static const MPI_Op IVSHMEM_MPI_REPLACE = MPI_REPLACE;
static const MPI_Op IVSHMEM_MPI_NO_OP = MPI_NO_OP;
