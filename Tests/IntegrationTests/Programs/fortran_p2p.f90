! Point-to-point from Fortran (fortran_p2p_body.inc: MPI_Send / MPI_Recv, MPI_Isend /
! MPI_Irecv / MPI_Waitall, MPI_Sendrecv, MPI_Probe + MPI_Get_count, MPI_Send_init /
! MPI_Recv_init / MPI_Startall) through two bindings: `use mpi_f08`, whose bindings (in
! MPICH) call PMPI_Send, PMPI_Recv, ... directly, the way into MPI most likely to pass the
! library by, and `include 'mpif.h'`, which calls the C MPI_Send, ... One executable: the
! argument `mpi_f08` or `mpif.h` picks one binding, none runs both in turn. Rank 0 prints
! "fortran_p2p checked <binding>" after each binding's body, each rank then
! "fortran_p2p ok rank=R", and rank 0 "PASS fortran_p2p".
program fortran_p2p
  use mpi_f08
  implicit none
  integer :: ierr, rank, abort_ierr
  character(len=32) :: which
  character(len=64) :: line
  external p2p_mpi_f08, p2p_mpif_h

  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  which = ''
  if (command_argument_count() >= 1) call get_command_argument(1, which)
  select case (trim(which))
  case ('')
    call p2p_mpi_f08()
    call p2p_mpif_h()
  case ('mpi_f08')
    call p2p_mpi_f08()
  case ('mpif.h')
    call p2p_mpif_h()
  case default
    write (0, '(a)') 'FAIL fortran_p2p: unknown argument "' // trim(which) // '" (mpi_f08 or mpif.h)'
    flush (0)
    call MPI_Abort(MPI_COMM_WORLD, 2, abort_ierr)
  end select

  call MPI_Barrier(MPI_COMM_WORLD, ierr)
  ! One record: the ranks' lines must not interleave.
  write (line, '(a, i0)') 'fortran_p2p ok rank=', rank
  write (*, '(a)') trim(line)
  flush (6)
  call MPI_Barrier(MPI_COMM_WORLD, ierr)
  if (rank == 0) then
    write (*, '(a)') 'PASS fortran_p2p'
    flush (6)
  end if
  call MPI_Finalize(ierr)
end program fortran_p2p

subroutine p2p_mpi_f08()
  use mpi_f08
  implicit none
  character(len=*), parameter :: binding = 'use mpi_f08'
  type(MPI_Status) :: status, statuses(4)
  type(MPI_Request) :: requests(4)
  include 'fortran_p2p_body.inc'

  subroutine check_status(st, source, tag, count, what)
    type(MPI_Status), intent(in) :: st
    integer, intent(in) :: source, tag, count
    character(len=*), intent(in) :: what
    integer :: found, count_ierr
    found = -2
    call MPI_Get_count(st, MPI_INTEGER, found, count_ierr)
    call check_fields(st%MPI_SOURCE, st%MPI_TAG, found, source, tag, count, what)
  end subroutine check_status

  subroutine check_status_in(sts, i, source, tag, count, what)
    type(MPI_Status), intent(in) :: sts(:)
    integer, intent(in) :: i, source, tag, count
    character(len=*), intent(in) :: what
    call check_status(sts(i), source, tag, count, what)
  end subroutine check_status_in
end subroutine p2p_mpi_f08

subroutine p2p_mpif_h()
  implicit none
  include 'mpif.h'
  character(len=*), parameter :: binding = 'mpif.h'
  integer :: status(MPI_STATUS_SIZE), statuses(MPI_STATUS_SIZE, 4)
  integer :: requests(4)
  include 'fortran_p2p_body.inc'

  subroutine check_status(st, source, tag, count, what)
    integer, intent(in) :: st(MPI_STATUS_SIZE)
    integer, intent(in) :: source, tag, count
    character(len=*), intent(in) :: what
    integer :: found, count_ierr
    found = -2
    call MPI_Get_count(st, MPI_INTEGER, found, count_ierr)
    call check_fields(st(MPI_SOURCE), st(MPI_TAG), found, source, tag, count, what)
  end subroutine check_status

  subroutine check_status_in(sts, i, source, tag, count, what)
    integer, intent(in) :: sts(MPI_STATUS_SIZE, *)
    integer, intent(in) :: i, source, tag, count
    character(len=*), intent(in) :: what
    call check_status(sts(:, i), source, tag, count, what)
  end subroutine check_status_in
end subroutine p2p_mpif_h
