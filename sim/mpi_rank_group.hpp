// MPI ranks (OpenMPI from Debian) for `mpirun -n N spiketile simulate …`. A process that mpirun did
// not start never initialises MPI, so a plain run and the test suite never need mpirun.
#pragma once

#include <memory>
#include <string>

#include "sim/rank_group.hpp"

namespace spiketile::sim {

// The world's ranks when mpirun started this process (its environment says so), else null. A
// round that waits longer than `timeout_seconds` for a rank throws RankFailure naming it.
std::unique_ptr<RankGroup> mpi_ranks_if_launched(double timeout_seconds);

// Whether MPI was initialised here, and this process's rank (0 otherwise).
bool mpi_active();
int mpi_rank();
int mpi_size();
// Ends every rank of the run at once (MPI_Abort), for an error on this one; mpirun then names
// the rank that aborted.
[[noreturn]] void mpi_abort_all(int exit_code);
// MPI_Finalize, after a run that ended well on every rank.
void mpi_finish();

}  // namespace spiketile::sim
