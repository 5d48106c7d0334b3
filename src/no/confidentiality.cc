#include "no/confidentiality.h"

#include <string_view>

namespace gm::no {

bool HasConfidentialAddress(const json::Value& r) {
  std::string_view type = r.get_string("resourceType");
  if (type != "Patient" && type != "RelatedPerson") return false;
  const json::Value* meta = r.find("meta");
  const json::Value* security = meta ? meta->find("security") : nullptr;
  if (security == nullptr || !security->is_array()) return false;
  for (const auto& c : security->array()) {
    if (c.get_string("system") == "http://terminology.hl7.org/CodeSystem/v3-Confidentiality" &&
        (c.get_string("code") == "R" || c.get_string("code") == "V")) {
      return true;
    }
  }
  return false;
}

void RemoveAddress(json::Value& r) {
  r.erase("address");
  r.erase("text");
  if (json::Value* contacts = r.find("contact"); contacts && contacts->is_array()) {
    for (auto& c : contacts->array()) {
      if (c.is_object()) c.erase("address");
    }
  }
}

}  // namespace gm::no
