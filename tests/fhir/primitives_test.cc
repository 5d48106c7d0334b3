#include "fhir/primitives.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fhir/model.h"

namespace gm::fhir {
namespace {

struct Case {
  Primitive type;
  std::vector<std::string> valid;
  std::vector<std::string> invalid;
};

void ExpectCases(const Case& c) {
  for (const std::string& v : c.valid) {
    EXPECT_EQ(CheckLexical(c.type, v), "")
        << PrimitiveName(c.type) << " should accept [" << v << "]";
  }
  for (const std::string& v : c.invalid) {
    EXPECT_NE(CheckLexical(c.type, v), "")
        << PrimitiveName(c.type) << " should reject [" << v << "]";
  }
}

TEST(Primitives, NamesRoundTripAndCoverTheModel) {
  for (int i = 0; i <= static_cast<int>(Primitive::kXhtml); ++i) {
    Primitive p = static_cast<Primitive>(i);
    auto back = PrimitiveFromName(PrimitiveName(p));
    ASSERT_TRUE(back.has_value()) << PrimitiveName(p);
    EXPECT_EQ(*back, p);
  }
  EXPECT_FALSE(PrimitiveFromName("").has_value());
  EXPECT_FALSE(PrimitiveFromName("Quantity").has_value());
  EXPECT_FALSE(PrimitiveFromName("DateTime").has_value());
  // Every primitive type of the R4 model has a check.
  int primitives = 0;
  for (const char* name :
       {"base64Binary", "boolean",     "canonical", "code",     "date", "dateTime",    "decimal",
        "id",           "instant",     "integer",   "markdown", "oid",  "positiveInt", "string",
        "time",         "unsignedInt", "uri",       "url",      "uuid", "xhtml"}) {
    const TypeDef* t = Model::R4().Type(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_TRUE(t->IsPrimitive()) << name;
    EXPECT_TRUE(PrimitiveFromName(name).has_value()) << name;
    ++primitives;
  }
  EXPECT_EQ(primitives, 20);
}

TEST(Primitives, JsonKinds) {
  EXPECT_EQ(JsonKindOf(Primitive::kBoolean), json::Kind::kBool);
  for (Primitive p : {Primitive::kInteger, Primitive::kDecimal, Primitive::kPositiveInt,
                      Primitive::kUnsignedInt}) {
    EXPECT_EQ(JsonKindOf(p), json::Kind::kNumber) << PrimitiveName(p);
  }
  for (Primitive p : {Primitive::kString, Primitive::kDate, Primitive::kCode, Primitive::kXhtml,
                      Primitive::kBase64Binary, Primitive::kInstant}) {
    EXPECT_EQ(JsonKindOf(p), json::Kind::kString) << PrimitiveName(p);
  }
}

TEST(Primitives, CheckValueChecksJsonKindFirst) {
  EXPECT_EQ(CheckValue(Primitive::kBoolean, json::Value(true)), "");
  EXPECT_EQ(CheckValue(Primitive::kBoolean, json::Value(false)), "");
  EXPECT_NE(CheckValue(Primitive::kBoolean, json::Value("true")), "");
  EXPECT_NE(CheckValue(Primitive::kBoolean, json::Value(1)), "");
  EXPECT_EQ(CheckValue(Primitive::kInteger, json::Value::Number("42")), "");
  EXPECT_NE(CheckValue(Primitive::kInteger, json::Value("42")), "");
  EXPECT_NE(CheckValue(Primitive::kInteger, json::Value::Number("4.2")), "");
  EXPECT_EQ(CheckValue(Primitive::kDecimal, json::Value::Number("1.50")), "");
  EXPECT_NE(CheckValue(Primitive::kDecimal, json::Value("1.50")), "");
  EXPECT_EQ(CheckValue(Primitive::kDate, json::Value("2024-02-29")), "");
  EXPECT_NE(CheckValue(Primitive::kDate, json::Value::Number("2024")), "");
  EXPECT_NE(CheckValue(Primitive::kString, json::Value()), "");
  EXPECT_NE(CheckValue(Primitive::kString, json::Value::MakeObject()), "");
  EXPECT_NE(CheckValue(Primitive::kString, json::Value::MakeArray()), "");
}

TEST(Primitives, Boolean) {
  ExpectCases({Primitive::kBoolean, {"true", "false"}, {"", "True", "1", "0", "yes", "true "}});
}

TEST(Primitives, Integer) {
  ExpectCases({Primitive::kInteger,
               {"0", "-0", "1", "-1", "42", "2147483647", "-2147483648"},
               {"", "-", "+1", "01", "-01", "1.0", "1e3", "2147483648", "-2147483649",
                "99999999999999999999", "1 ", "a"}});
}

TEST(Primitives, PositiveInt) {
  ExpectCases({Primitive::kPositiveInt,
               {"1", "9", "10", "2147483647"},
               {"", "0", "-1", "01", "1.0", "2147483648", "+5", "1e2"}});
}

TEST(Primitives, UnsignedInt) {
  ExpectCases({Primitive::kUnsignedInt,
               {"0", "1", "2147483647"},
               {"", "-1", "-0", "00", "01", "0.0", "2147483648", "1e2"}});
}

TEST(Primitives, Decimal) {
  ExpectCases({Primitive::kDecimal,
               {"0", "-0", "0.0", "1.50", "-1.5", "100", "1e10", "1E-10", "1.5e+3", "0.000001"},
               {"", "-", ".5", "5.", "01", "-01.5", "1.5.5", "1e", "1e+", "+1", "1,5", "NaN",
                "Infinity", " 1"}});
}

TEST(Primitives, String) {
  std::string at_limit(1024 * 1024, 'a');
  std::string over_limit(1024 * 1024 + 1, 'a');
  // 1 MiB of two-byte characters is 2 MiB of bytes but within the limit.
  std::string multibyte;
  for (int i = 0; i < 1024 * 1024; ++i) multibyte += "\xC3\xB8";
  ExpectCases({Primitive::kString,
               {"a", " ", "Sørgård", "line\nbreak", "tab\there", "cr\r\n", " padded ", at_limit,
                multibyte, std::string("x") + "\x7F"},
               {"", std::string("nul\0byte", 8), "bell\x07", "esc\x1B[0m", "form\ffeed",
                "vertical\vtab", over_limit, multibyte + "a"}});
  // Control characters are found at every position of a long string.
  for (size_t pos : {0, 15, 16, 17, 31, 32, 100}) {
    std::string s(120, 'a');
    s[pos] = '\x01';
    EXPECT_NE(CheckLexical(Primitive::kString, s), "") << pos;
  }
}

TEST(Primitives, Markdown) {
  ExpectCases({Primitive::kMarkdown, {"# Title\n\n* item", "plain"}, {"", "bad\x02"}});
}

TEST(Primitives, Code) {
  ExpectCases(
      {Primitive::kCode,
       {"final", "entered-in-error", "a b", "a\tb", "x", "ÆØÅ", "text/plain; charset=UTF-8"},
       {"", " final", "final ", "a  b", "a \tb", "\n", " ", "a\n\nb", "bad\x01"}});
}

TEST(Primitives, Id) {
  ExpectCases({Primitive::kId,
               {"a", "example", "123", "A-b.C", std::string(64, 'x'), "-", "."},
               {"", std::string(65, 'x'), "a b", "a_b", "a/b", "ø", "a:b", "#a"}});
}

TEST(Primitives, UriUrlCanonical) {
  for (Primitive p : {Primitive::kUri, Primitive::kUrl, Primitive::kCanonical}) {
    ExpectCases({p,
                 {"http://example.org/fhir", "urn:oid:1.2.3", "#local", "a",
                  "http://hl7.org/fhir/ValueSet/x|4.0.1", "æøå"},
                 {"", "http://example.org/a b", " http://x", "http://x\n", "\tx", "a\x01"}});
  }
}

TEST(Primitives, Oid) {
  ExpectCases({Primitive::kOid,
               {"urn:oid:1.2", "urn:oid:2.16.840.1.113883.6.1", "urn:oid:0.0", "urn:oid:1.0.3"},
               {"", "1.2.3", "urn:oid:", "urn:oid:1", "urn:oid:3.1", "urn:oid:1.02", "urn:oid:1..2",
                "urn:oid:1.2.", "urn:oid:1.a", "URN:OID:1.2"}});
}

TEST(Primitives, Uuid) {
  ExpectCases(
      {Primitive::kUuid,
       {"urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
        "urn:uuid:00000000-0000-0000-0000-000000000000"},
       {"", "c757873d-ec9a-4326-a141-556f43239520", "urn:uuid:C757873D-EC9A-4326-A141-556F43239520",
        "urn:uuid:c757873d-ec9a-4326-a141-556f4323952",
        "urn:uuid:c757873d-ec9a-4326-a141-556f432395200",
        "urn:uuid:c757873dec9a-4326-a141-556f43239520-",
        "urn:uuid:g757873d-ec9a-4326-a141-556f43239520"}});
}

TEST(Primitives, Date) {
  ExpectCases({Primitive::kDate,
               {"2024", "2024-02", "2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31",
                "1900-02-28", "2023-04-30"},
               {"", "0000", "24", "20240", "2024-2", "2024-00", "2024-13", "2024-02-30",
                "2023-02-29", "1900-02-29", "2100-02-29", "2023-04-31", "2024-01-32", "2024-01-00",
                "2024-01-01T10:00:00Z", "2024/01/01", "2024-01-01 ", "-2024", "2024-01-1"}});
}

TEST(Primitives, DateTime) {
  ExpectCases(
      {Primitive::kDateTime,
       {"2024", "2024-03", "2024-03-15", "2024-03-15T10:20:30Z", "2024-03-15T10:20:30+01:00",
        "2024-03-15T10:20:30.123-05:00", "2024-03-15T23:59:60Z", "2024-03-15T00:00:00+14:00",
        "2024-03-15T00:00:00-13:59", "2024-03-15T00:00:00.1+00:00"},
       {"", "2024-03-15T10:20:30", "2024-03-15T10:20Z", "2024-03-15T10Z", "2024-03-15T24:00:00Z",
        "2024-03-15T10:60:00Z", "2024-03-15T10:20:61Z", "2024-03-15T10:20:30+14:01",
        "2024-03-15T10:20:30+15:00", "2024-03-15T10:20:30+0100", "2024-03-15T10:20:30+01",
        "2024-03-15T10:20:30.Z", "2024-03-15t10:20:30Z", "2024-03-15 10:20:30Z",
        "2024-02-30T10:20:30Z", "2024-03-15T10:20:30Zjunk", "2024-03T10:20:30Z", "2024-03-15T"}});
}

TEST(Primitives, Instant) {
  ExpectCases(
      {Primitive::kInstant,
       {"2024-03-15T10:20:30Z", "2024-03-15T10:20:30.000+02:00", "2015-02-07T13:28:17.239+02:00"},
       {"", "2024", "2024-03", "2024-03-15", "2024-03-15T10:20:30", "2024-03-15T10:20Z",
        "2024-03-15T10:20:30.+02:00", "2023-02-29T10:20:30Z"}});
}

TEST(Primitives, Time) {
  ExpectCases({Primitive::kTime,
               {"00:00:00", "23:59:59", "12:30:00.5", "23:59:60"},
               {"", "24:00:00", "12:30", "12:60:00", "12:30:00Z", "12:30:00+01:00", "1:30:00",
                "12:30:00.", "T12:30:00"}});
}

TEST(Primitives, ParseTemporalParts) {
  Temporal t;
  ASSERT_EQ(ParseTemporal(Primitive::kDateTime, "2024-03-15T10:20:30.250-05:30", &t), "");
  EXPECT_EQ(t.precision, Temporal::Precision::kSecond);
  EXPECT_EQ(t.year, 2024);
  EXPECT_EQ(t.month, 3);
  EXPECT_EQ(t.day, 15);
  EXPECT_EQ(t.hour, 10);
  EXPECT_EQ(t.minute, 20);
  EXPECT_EQ(t.second, 30);
  EXPECT_EQ(t.fraction, "250");
  EXPECT_TRUE(t.has_zone);
  EXPECT_EQ(t.zone_offset_minutes, -330);
  ASSERT_EQ(ParseTemporal(Primitive::kDate, "1999-12", &t), "");
  EXPECT_EQ(t.precision, Temporal::Precision::kMonth);
  EXPECT_EQ(t.year, 1999);
  EXPECT_EQ(t.month, 12);
  EXPECT_EQ(t.day, 0);
  EXPECT_FALSE(t.has_zone);
  ASSERT_EQ(ParseTemporal(Primitive::kTime, "08:05:01", &t), "");
  EXPECT_EQ(t.hour, 8);
  EXPECT_EQ(t.minute, 5);
  EXPECT_EQ(t.second, 1);
  EXPECT_TRUE(t.fraction.empty());
  EXPECT_EQ(ParseTemporal(Primitive::kDateTime, "2024-02-30", &t),
            "day is out of range for the month");
  EXPECT_EQ(ParseTemporal(Primitive::kDateTime, "2024-02-03T10:00:00", &t),
            "a time must have a timezone (Z or +hh:mm)");
  EXPECT_NE(ParseTemporal(Primitive::kString, "2024", &t), "");
}

TEST(Primitives, DaysInMonth) {
  EXPECT_EQ(DaysInMonth(2024, 2), 29);
  EXPECT_EQ(DaysInMonth(2023, 2), 28);
  EXPECT_EQ(DaysInMonth(1900, 2), 28);
  EXPECT_EQ(DaysInMonth(2000, 2), 29);
  EXPECT_EQ(DaysInMonth(2023, 4), 30);
  EXPECT_EQ(DaysInMonth(2023, 12), 31);
  EXPECT_EQ(DaysInMonth(2023, 0), 0);
  EXPECT_EQ(DaysInMonth(2023, 13), 0);
}

TEST(Primitives, Base64Binary) {
  ExpectCases({Primitive::kBase64Binary,
               {"QQ==", "QUI=", "QUJD", "QUJDRA==", "QUJD\nRA==", "QUJD RA==", " QUJD ",
                "QUJD\r\nQUJD\r\n", "a+/9"},
               {"", " ", "Q", "QQ", "QQ=", "QUJDR", "Q===", "QQ==QQ==", "QU JD", "QUJD!A==", "QQ=A",
                "=QQQ"}});
}

TEST(Primitives, XhtmlAcceptsNarrative) {
  ExpectCases(
      {Primitive::kXhtml,
       {R"h(<div xmlns="http://www.w3.org/1999/xhtml">Hello</div>)h",
        R"h(<div xmlns='http://www.w3.org/1999/xhtml'><p>Ok &amp; <b>bold</b></p></div>)h",
        "\n<div xmlns=\"http://www.w3.org/1999/xhtml\">\n\t<table><tr><td>1</td></tr></table>"
        "\n</div>\n",
        R"h(<div xmlns="http://www.w3.org/1999/xhtml"><img src="x.png" alt=""/></div>)h",
        R"h(<div xmlns="http://www.w3.org/1999/xhtml"><!-- note --><a href="http://x">x</a></div>)h",
        R"h(<div xmlns="http://www.w3.org/1999/xhtml" xml:lang="nb"><h1>T</h1><br/><hr /></div>)h",
        R"h(<div xmlns="http://www.w3.org/1999/xhtml"><span style="color: red" class="c">x</span></div>)h",
        R"h(<div xmlns="http://www.w3.org/1999/xhtml">a > b</div>)h"},
       {}});
}

TEST(Primitives, XhtmlRejectsUnsafeOrMalformed) {
  const std::string ns = R"h( xmlns="http://www.w3.org/1999/xhtml")h";
  ExpectCases({Primitive::kXhtml,
               {},
               {"",
                "plain text",
                "<div>no namespace</div>",
                R"h(<div xmlns="http://example.org">wrong namespace</div>)h",
                "<p" + ns + ">not a div</p>",
                "<div" + ns + "><script>alert(1)</script></div>",
                "<div" + ns + "><SCRIPT>alert(1)</SCRIPT></div>",
                "<div" + ns + "><iframe src=\"x\"></iframe></div>",
                "<div" + ns + "><object data=\"x\"></object>x</div>",
                "<div" + ns + "><form>x</form></div>",
                "<div" + ns + R"h(><img src="x" onerror="alert(1)"/></div>)h",
                "<div" + ns + R"h( onClick="x()">x</div>)h",
                "<div" + ns + R"h(><a href="javascript:alert(1)">x</a></div>)h",
                "<div" + ns + R"h(><a href=" JavaScript:alert(1)">x</a></div>)h",
                "<div" + ns + "><p>unclosed</div>",
                "<div" + ns + "><p>x</b></p></div>",
                "<div" + ns + ">x",
                "<div" + ns + ">x</div><div" + ns + ">y</div>",
                "<div" + ns + ">x</div>trailing",
                "leading<div" + ns + ">x</div>",
                "<div" + ns + "></div>",
                "<div" + ns + ">   </div>",
                "<div" + ns + "/>",
                "<div" + ns + "><p>x<!-- open</p></div>",
                "<?xml version=\"1.0\"?><div" + ns + ">x</div>",
                "<!DOCTYPE html><div" + ns + ">x</div>",
                "<div" + ns + R"h(><a href=x>x</a></div>)h",
                "<div" + ns + R"h(><input disabled>x</div>)h",
                "<div" + ns + R"h(><a title="a<b">x</a></div>)h",
                "<div" + ns + "><p>bad\x01</p></div>"}});
  EXPECT_EQ(CheckLexical(Primitive::kXhtml, "<div" + ns + "><script>x</script></div>"),
            "uses an element that narrative does not allow");
  EXPECT_EQ(CheckLexical(Primitive::kXhtml, "<div" + ns + R"h( onload="x">y</div>)h"),
            "must not have event handler attributes");
}

TEST(Primitives, XhtmlDeepNestingIsRejectedNotCrashing) {
  std::string s = R"h(<div xmlns="http://www.w3.org/1999/xhtml">)h";
  for (int i = 0; i < 10000; ++i) s += "<span>";
  s += "x";
  for (int i = 0; i < 10000; ++i) s += "</span>";
  s += "</div>";
  EXPECT_EQ(CheckLexical(Primitive::kXhtml, s), "is nested too deeply");
}

TEST(Primitives, LongInputsAreLinear) {
  // Inputs that make backtracking regex engines explode or overflow the stack.
  std::string spaces(200000, ' ');
  EXPECT_NE(CheckLexical(Primitive::kCode, "a" + spaces + "b"), "");
  std::string words;
  for (int i = 0; i < 100000; ++i) words += "ab ";
  EXPECT_NE(CheckLexical(Primitive::kCode, words), "");  // trailing space
  words.pop_back();
  EXPECT_EQ(CheckLexical(Primitive::kCode, words), "");
  std::string b64;
  for (int i = 0; i < 100000; ++i) b64 += "QUJD ";
  EXPECT_EQ(CheckLexical(Primitive::kBase64Binary, b64), "");
  EXPECT_NE(CheckLexical(Primitive::kBase64Binary, b64 + "Q"), "");
  std::string oid = "urn:oid:1";
  for (int i = 0; i < 100000; ++i) oid += ".12";
  EXPECT_EQ(CheckLexical(Primitive::kOid, oid), "");
  EXPECT_NE(CheckLexical(Primitive::kDecimal, std::string(100000, '1') + "."), "");
}

TEST(Primitives, ReasonsNeverEchoInput) {
  const std::string secret = "Sørgård-1234567";
  for (int i = 0; i <= static_cast<int>(Primitive::kXhtml); ++i) {
    Primitive p = static_cast<Primitive>(i);
    std::string_view reason = CheckLexical(p, secret + " \x01");
    EXPECT_NE(reason, "") << PrimitiveName(p);
    EXPECT_EQ(reason.find("Sørgård"), std::string_view::npos) << PrimitiveName(p);
  }
}

}  // namespace
}  // namespace gm::fhir
