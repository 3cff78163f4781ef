! The collectives of fortran_collectives_body.inc through `use mpi_f08`, whose
! bindings (in MPICH) call PMPI_Barrier, PMPI_Allreduce, ... directly: the way
! into MPI most likely to pass the library by.
program fortran_collectives
  use mpi_f08
  implicit none
  character(len=*), parameter :: test_name = 'fortran_collectives'
  type(MPI_Op) :: matrix_op
  type(MPI_Datatype) :: matrix_type
  procedure(MPI_User_function) :: matrix_product
  include 'fortran_collectives_body.inc'
end program fortran_collectives

! The user operation: inoutvec(:, k) = invec(:, k) * inoutvec(:, k), 2x2 integer
! matrices stored row-major (MPI's order: in op inout).
subroutine matrix_product(invec, inoutvec, len, datatype)
  use, intrinsic :: iso_c_binding, only: c_ptr, c_f_pointer
  use mpi_f08, only: MPI_Datatype, MPI_DATATYPE_NULL
  implicit none
  type(c_ptr), value :: invec, inoutvec
  integer :: len
  type(MPI_Datatype) :: datatype
  integer, pointer :: a(:, :), b(:, :)
  integer :: k
  ! Always the 4-integer type here; read so that -Wall does not call it unused.
  if (datatype%MPI_VAL == MPI_DATATYPE_NULL%MPI_VAL) return
  call c_f_pointer(invec, a, [4, len])
  call c_f_pointer(inoutvec, b, [4, len])
  do k = 1, len
    b(:, k) = [a(1, k) * b(1, k) + a(2, k) * b(3, k), a(1, k) * b(2, k) + a(2, k) * b(4, k), &
               a(3, k) * b(1, k) + a(4, k) * b(3, k), a(3, k) * b(2, k) + a(4, k) * b(4, k)]
  end do
end subroutine matrix_product
