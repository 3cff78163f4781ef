! The collectives of fortran_collectives_body.inc through `include 'mpif.h'`.
program fortran_collectives_mpif_h
  implicit none
  include 'mpif.h'
  character(len=*), parameter :: test_name = 'fortran_collectives_mpif_h'
  integer :: matrix_op, matrix_type
  external matrix_product
  include 'fortran_collectives_body.inc'
end program fortran_collectives_mpif_h

! The user operation (fortran_matrix_product.inc).
subroutine matrix_product(invec, inoutvec, len, datatype)
  implicit none
  include 'mpif.h'
  include 'fortran_matrix_product.inc'
end subroutine matrix_product
