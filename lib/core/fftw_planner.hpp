// The one lock around FFTW's planner.
//
// FFTW documents only its execute functions as thread-safe: creating and destroying
// plans (and fftw_malloc/fftw_free in some builds) touch global planner state shared
// by every module of the process. Every neurop module that plans FFTW transforms takes
// this lock, so planning in the data generators and in the spectral layers never races.
#pragma once

#include <mutex>

namespace neurop {

std::mutex& fftw_planner_mutex();

}  // namespace neurop
