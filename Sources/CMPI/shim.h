/* mpi.h of the MPICH ABI, for its types and constants only: the library links no MPI library
 * (MPILibraryLoader finds it in the process). Package.swift puts its directory on the path. */
#include <mpi.h>

/* mpi.h spells these as casts of parenthesized literals, which Swift does not import. */
static const MPI_Op IVSHMEM_MPI_SUM = MPI_SUM;
static const MPI_Op IVSHMEM_MPI_REPLACE = MPI_REPLACE;
static const MPI_Op IVSHMEM_MPI_NO_OP = MPI_NO_OP;
/* Every predefined operation an accumulate takes. */
static const MPI_Op IVSHMEM_MPI_PREDEFINED_OPS[] = {MPI_MAX, MPI_MIN, MPI_SUM, MPI_PROD, MPI_LAND, MPI_BAND, MPI_LOR,
                                                    MPI_BOR, MPI_LXOR, MPI_BXOR, MPI_MINLOC, MPI_MAXLOC, MPI_REPLACE,
                                                    MPI_NO_OP};
/* The MINLOC/MAXLOC pair types: their handles do not fit Swift's Int32 as literals. */
static const MPI_Datatype IVSHMEM_MPI_PAIR_TYPES[] = {MPI_FLOAT_INT, MPI_DOUBLE_INT, MPI_LONG_INT, MPI_SHORT_INT,
                                                      MPI_LONG_DOUBLE_INT};
/* MPI_STATUS_IGNORE and MPI_STATUSES_IGNORE, casts of 1. */
static MPI_Status *const IVSHMEM_MPI_STATUS_IGNORE = MPI_STATUS_IGNORE;
static MPI_Status *const IVSHMEM_MPI_STATUSES_IGNORE = MPI_STATUSES_IGNORE;
/* MPI_IN_PLACE, a cast of -1. */
static void *const IVSHMEM_MPI_IN_PLACE = MPI_IN_PLACE;
