/*
 * One MPI_Win_allocate window whose members differ in size and disp_unit, with
 * zero-size members, checked through its attributes and through puts and gets
 * that address every member in its own disp_unit.
 *
 * Rank r exposes size_of(r) bytes with disp_unit unit_of(r); ranks with r % 3 == 1
 * expose nothing. Each non-empty window holds one 8-byte cell per origin at byte
 * 8*o, the larger (odd) ones a second cell at byte 8*(n+o), and all a last 8 bytes
 * that rank 0 writes, so the whole extent gets used.
 */
#include "common.h"

static MPI_Aint size_of(int rank) {
    if (rank % 3 == 1) return 0;
    /* Multiples of 16 (see window_bytes) but not of 64: an allocator must round them. */
    return window_bytes(rank % 2 ? (MPI_Aint)16 * world_size + 24 : (MPI_Aint)8 * world_size + 8);
}
static int unit_of(int rank) {
    static const int units[] = {1, 4, 8, 2};
    return units[rank % 4];
}

static MPI_Win win;
static unsigned char *window_base;
static MPI_Aint *sizes;
static int *units;

static void cell_value(unsigned char *cell, int origin, int target, int which) {
    for (int i = 0; i < 8; i++) cell[i] = (unsigned char)(origin * 16 + target * 3 + which * 101 + i);
}

/* Byte offsets this origin writes in `target`'s window (-1 = none). */
static void offsets_for(int origin, int target, MPI_Aint offsets[3]) {
    offsets[0] = offsets[1] = offsets[2] = -1;
    if (sizes[target] == 0) return;
    offsets[0] = (MPI_Aint)8 * origin;
    if (sizes[target] >= (MPI_Aint)8 * world_size * 2 + 8) offsets[1] = (MPI_Aint)8 * (world_size + origin);
    if (origin == 0) offsets[2] = sizes[target] - 8;
}

static void check_attributes(MPI_Aint size, int unit) {
    void *base_attr = NULL;
    MPI_Aint *size_attr = NULL;
    int *unit_attr = NULL, *flavor_attr = NULL, *model_attr = NULL, flag = 0;
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_BASE, &base_attr, &flag));
    CHECK(flag, "MPI_WIN_BASE not set");
    CHECK(base_attr == (void *)window_base, "MPI_WIN_BASE %p differs from the baseptr %p MPI_Win_allocate returned",
          base_attr, (void *)window_base);
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_SIZE, &size_attr, &flag));
    CHECK(flag, "MPI_WIN_SIZE not set");
    CHECK_EQ_LL(*size_attr, size, "MPI_WIN_SIZE");
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_DISP_UNIT, &unit_attr, &flag));
    CHECK(flag, "MPI_WIN_DISP_UNIT not set");
    CHECK_EQ_LL(*unit_attr, unit, "MPI_WIN_DISP_UNIT");
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_CREATE_FLAVOR, &flavor_attr, &flag));
    CHECK(flag, "MPI_WIN_CREATE_FLAVOR not set");
    CHECK(*flavor_attr == MPI_WIN_FLAVOR_ALLOCATE, "MPI_WIN_CREATE_FLAVOR: expected MPI_WIN_FLAVOR_ALLOCATE (%d), found %d",
          MPI_WIN_FLAVOR_ALLOCATE, *flavor_attr);
    MPI_OK(MPI_Win_get_attr(win, MPI_WIN_MODEL, &model_attr, &flag));
    CHECK(flag, "MPI_WIN_MODEL not set");
    CHECK(*model_attr == MPI_WIN_UNIFIED, "MPI_WIN_MODEL: expected MPI_WIN_UNIFIED (%d), found %d", MPI_WIN_UNIFIED,
          *model_attr);

    MPI_Group window_group, world_group;
    int comparison = MPI_UNEQUAL;
    MPI_OK(MPI_Win_get_group(win, &window_group));
    MPI_OK(MPI_Comm_group(MPI_COMM_WORLD, &world_group));
    MPI_OK(MPI_Group_compare(window_group, world_group, &comparison));
    CHECK(comparison == MPI_IDENT, "MPI_Win_get_group: group differs from the communicator's (%d)", comparison);
    MPI_OK(MPI_Group_free(&window_group));
    MPI_OK(MPI_Group_free(&world_group));

    char name[MPI_MAX_OBJECT_NAME];
    int name_length = 0;
    MPI_OK(MPI_Win_set_name(win, "shapes window"));
    MPI_OK(MPI_Win_get_name(win, name, &name_length));
    CHECK(strcmp(name, "shapes window") == 0, "MPI_Win_get_name returned \"%s\"", name);
}

static void put_everywhere(void) {
    unsigned char *cells = xmalloc((size_t)world_size * 3 * 8);
    MPI_OK(MPI_Win_fence(MPI_MODE_NOPRECEDE, win));
    for (int target = 0; target < world_size; target++) {
        MPI_Aint offsets[3];
        offsets_for(world_rank, target, offsets);
        for (int which = 0; which < 3; which++) {
            if (offsets[which] < 0) continue;
            unsigned char *cell = cells + ((size_t)target * 3 + which) * 8;
            cell_value(cell, world_rank, target, which);
            /* The displacement counts the target's own disp_unit; all units divide 8. */
            MPI_OK(MPI_Put(cell, 8, MPI_BYTE, target, offsets[which] / units[target], 8, MPI_BYTE, win));
        }
    }
    MPI_OK(MPI_Win_fence(0, win));
    free(cells);
}

static void check_own_window(void) {
    unsigned char expected[8];
    for (int origin = 0; origin < world_size; origin++) {
        MPI_Aint offsets[3];
        offsets_for(origin, world_rank, offsets);
        for (int which = 0; which < 3; which++) {
            if (offsets[which] < 0) continue;
            cell_value(expected, origin, world_rank, which);
            char label[96];
            snprintf(label, sizeof label, "cell %d of origin %d at byte %ld", which, origin, (long)offsets[which]);
            CHECK_BYTES(window_base + offsets[which], expected, 8, label);
        }
    }
}

static void get_everywhere(void) {
    unsigned char fetched[3][8], expected[8];
    for (int target = 0; target < world_size; target++) {
        MPI_Aint offsets[3];
        offsets_for(world_rank, target, offsets);
        MPI_OK(MPI_Win_lock(MPI_LOCK_SHARED, target, 0, win));
        for (int which = 0; which < 3; which++)
            if (offsets[which] >= 0)
                MPI_OK(MPI_Get(fetched[which], 8, MPI_BYTE, target, offsets[which] / units[target], 8, MPI_BYTE, win));
        MPI_OK(MPI_Win_unlock(target, win));
        for (int which = 0; which < 3; which++) {
            if (offsets[which] < 0) continue;
            cell_value(expected, world_rank, target, which);
            char label[96];
            snprintf(label, sizeof label, "get of cell %d from target %d (disp_unit %d)", which, target, units[target]);
            CHECK_BYTES(fetched[which], expected, 8, label);
        }
    }
}

int main(int argc, char **argv) {
    test_init(&argc, &argv, "window_shapes");
    MPI_Aint my_size = size_of(world_rank);
    int my_unit = unit_of(world_rank);
    sizes = xmalloc(sizeof(MPI_Aint) * world_size);
    units = xmalloc(sizeof(int) * world_size);
    /* Origins learn the shapes from the program, as real applications do. */
    for (int r = 0; r < world_size; r++) {
        sizes[r] = size_of(r);
        units[r] = unit_of(r);
    }

    MPI_OK(MPI_Win_allocate(my_size, my_unit, MPI_INFO_NULL, MPI_COMM_WORLD, &window_base, &win));
    check_attributes(my_size, my_unit);
    test_phase_done("attributes");

    put_everywhere();
    check_own_window();
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSUCCEED, win));
    test_phase_done("puts with per-target disp_unit");
    get_everywhere();
    test_phase_done("gets with per-target disp_unit");

    /* Same shapes again with an info hint: MPI must accept and may ignore it. */
    MPI_Info info;
    MPI_OK(MPI_Info_create(&info));
    MPI_OK(MPI_Info_set(info, "same_size", "false"));
    MPI_OK(MPI_Info_set(info, "accumulate_ordering", "none"));
    MPI_OK(MPI_Win_free(&win));
    MPI_OK(MPI_Win_allocate(my_size, my_unit, info, MPI_COMM_WORLD, &window_base, &win));
    MPI_OK(MPI_Info_free(&info));
    check_attributes(my_size, my_unit);
    put_everywhere();
    check_own_window();
    MPI_OK(MPI_Win_fence(MPI_MODE_NOSUCCEED, win));
    get_everywhere();
    test_phase_done("window with info hints");

    MPI_OK(MPI_Win_free(&win));
    CHECK(win == MPI_WIN_NULL, "MPI_Win_free did not set the handle to MPI_WIN_NULL");
    free(units);
    free(sizes);
    return test_finish();
}
