! The collectives of fortran_collectives_body.inc through `use mpi`.
program fortran_collectives_use_mpi
  use mpi
  implicit none
  character(len=*), parameter :: test_name = 'fortran_collectives_use_mpi'
  integer :: matrix_op, matrix_type
  external matrix_product
  include 'fortran_collectives_body.inc'
end program fortran_collectives_use_mpi

! The user operation (fortran_matrix_product.inc).
subroutine matrix_product(invec, inoutvec, len, datatype)
  use mpi
  implicit none
  include 'fortran_matrix_product.inc'
end subroutine matrix_product
