! The RMA exercise of fortran_rma_body.inc through `use mpi_f08`, whose bindings
! (in MPICH) call PMPI_Init, PMPI_Win_allocate, PMPI_Win_fence, ... directly.
program fortran_mpi_f08
  use, intrinsic :: iso_c_binding, only: c_ptr, c_f_pointer
  use mpi_f08
  implicit none
  character(len=*), parameter :: test_name = 'fortran_mpi_f08'
  type(MPI_Win) :: win, cwin
  include 'fortran_rma_body.inc'

  subroutine allocate_window(bytes, disp_unit)
    integer(kind=MPI_ADDRESS_KIND), intent(in) :: bytes
    integer, intent(in) :: disp_unit
    type(c_ptr) :: base
    call MPI_Win_allocate(bytes, disp_unit, MPI_INFO_NULL, MPI_COMM_WORLD, base, win, ierr)
    call c_f_pointer(base, mem, [nints])
  end subroutine allocate_window
end program fortran_mpi_f08
