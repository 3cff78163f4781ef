! The RMA exercise of fortran_rma_body.inc through `use mpi`.
program fortran_use_mpi
  use, intrinsic :: iso_c_binding, only: c_ptr, c_f_pointer
  use mpi
  implicit none
    character(len=*), parameter :: test_name = 'fortran_use_mpi'
  integer :: win, cwin
  include 'fortran_rma_body.inc'

  subroutine allocate_window(bytes, disp_unit)
    integer(kind=MPI_ADDRESS_KIND), intent(in) :: bytes
    integer, intent(in) :: disp_unit
    integer(kind=MPI_ADDRESS_KIND) :: base
    type(c_ptr) :: base_ptr
    call MPI_Win_allocate(bytes, disp_unit, MPI_INFO_NULL, MPI_COMM_WORLD, base, win, ierr)
    base_ptr = transfer(base, base_ptr)
    call c_f_pointer(base_ptr, mem, [nints])
  end subroutine allocate_window
end program fortran_use_mpi
