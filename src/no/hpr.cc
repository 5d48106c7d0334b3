#include "no/hpr.h"

namespace gm::no {

std::vector<HprAuthorisation> HprAuthorisations(const json::Value& practitioner) {
  std::vector<HprAuthorisation> out;
  const json::Value* quals = practitioner.find("qualification");
  if (quals == nullptr || !quals->is_array()) return out;
  for (const json::Value& q : quals->array()) {
    const json::Value* code = q.find("code");
    const json::Value* codings = code ? code->find("coding") : nullptr;
    if (codings == nullptr || !codings->is_array()) continue;
    std::string status;
    bool prescribing = false;
    if (const json::Value* exts = q.find("extension"); exts && exts->is_array()) {
      for (const json::Value& e : exts->array()) {
        std::string_view url = e.get_string("url");
        if (url == kHprStatusExtension) {
          status = e.get_string("valueCode");
        } else if (url == kHprPrescribingRightExtension) {
          const json::Value* b = e.find("valueBoolean");
          prescribing = b != nullptr && b->is_bool() && b->as_bool();
        }
      }
    }
    if (status.empty()) {
      const json::Value* period = q.find("period");
      status = period && !period->get_string("end").empty() ? "revoked" : "active";
    }
    for (const json::Value& c : codings->array()) {
      if (c.get_string("system") == kAuthorisation9060) {
        out.push_back({std::string(c.get_string("code")), status, prescribing});
      }
    }
  }
  return out;
}

}  // namespace gm::no
