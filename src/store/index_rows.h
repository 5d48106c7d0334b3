// How index entries become column values — one definition for every
// backend's write path and its `check` (each backend's query compiler reads
// the same encoding back).
#pragma once

#include <cstdint>
#include <string_view>

#include "store/store.h"

namespace gm::store {

// The value column of a number/quantity row: the midpoint of its range
// (the finite end when the other is infinite; 0 when both are).
double Midpoint(double lo, double hi);

// One component of a composite entry as its slot columns (s, c, lo, hi, v,
// b, e). `e == nullptr` (a composite with one component) is all empty.
struct CompositeSlot {
  std::string_view system;  // s
  std::string_view code;    // c
  bool number = false;      // lo, hi, v are set (number and quantity)
  double lo = 0, hi = 0, mid = 0;
  bool date = false;        // b, e are set
  int64_t begin_us = 0, end_us = 0;
};
CompositeSlot SlotOf(const IndexEntry* e);

}  // namespace gm::store
