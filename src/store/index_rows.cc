#include "store/index_rows.h"

#include <cmath>

namespace gm::store {

double Midpoint(double lo, double hi) {
  if (std::isinf(lo) && std::isinf(hi)) return 0;
  if (std::isinf(lo)) return hi;
  if (std::isinf(hi)) return lo;
  return (lo + hi) / 2;
}

CompositeSlot SlotOf(const IndexEntry* e) {
  using Kind = IndexEntry::Kind;
  CompositeSlot s;
  if (e == nullptr) return s;
  switch (e->kind) {
    case Kind::kToken:
      s.system = e->system;
      s.code = e->code;
      break;
    case Kind::kString:
      s.code = e->text;
      break;
    case Kind::kReference:
      s.system = e->system;
      s.code = e->code.empty() ? std::string_view(e->text) : std::string_view(e->code);
      break;
    case Kind::kUri:
      s.code = e->code;
      break;
    case Kind::kQuantity:
      s.system = e->system;
      s.code = e->code;
      [[fallthrough]];
    case Kind::kNumber:
      s.number = true;
      s.lo = e->lo;
      s.hi = e->hi;
      s.mid = Midpoint(e->lo, e->hi);
      break;
    case Kind::kDate:
      s.date = true;
      s.begin_us = e->begin_us;
      s.end_us = e->end_us;
      break;
    default:
      break;
  }
  return s;
}

}  // namespace gm::store
