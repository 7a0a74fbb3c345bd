// Unit tests of the CLI's option parser and JSON writer.
#include <gtest/gtest.h>

#include <limits>

#include "cli/args.h"
#include "cli/json.h"

namespace elmq {
namespace cli {
namespace {

ArgParser parser() {
  ArgParser p("elmq test", "elmq test FILE [options]", "A test command.");
  p.positional("FILE", "input");
  p.option("hidden", "SPEC", "groups", "1000:tanh");
  p.option("lambda", "X", "penalty");
  p.option("output", "FILE", "output", "", 'o');
  p.flag("json", "json output");
  p.flag("quiet", "quiet", 'q');
  return p;
}

TEST(ArgParser, Forms) {
  const ParsedArgs a = parser().parse(
      {"--hidden", "20:relu", "in.csv", "--lambda=-1e-3", "-o", "m.elmq", "-q", "--json"});
  EXPECT_EQ(a.positionals(), (std::vector<std::string>{"in.csv"}));
  EXPECT_EQ(a.get("hidden"), "20:relu");
  EXPECT_EQ(a.get_double("lambda", 0, -1, 1), -1e-3);  // a value may start with '-'
  EXPECT_EQ(a.get("output"), "m.elmq");
  EXPECT_TRUE(a.flag("quiet"));
  EXPECT_TRUE(a.flag("json"));
  EXPECT_FALSE(a.flag("help"));
  EXPECT_EQ(a.get("missing", "dflt"), "dflt");

  const ParsedArgs b = parser().parse({"-o=x", "--", "--weird-file"});
  EXPECT_EQ(b.get("output"), "x");
  EXPECT_EQ(b.positionals(), (std::vector<std::string>{"--weird-file"}));
  const ParsedArgs last = parser().parse({"f", "--hidden", "1", "--hidden", "2"});
  EXPECT_EQ(last.get("hidden"), "2");
}

TEST(ArgParser, HelpSkipsPositionalCheck) {
  const ParsedArgs a = parser().parse({"--help"});
  EXPECT_TRUE(a.flag("help"));
  const std::string h = parser().help();
  EXPECT_NE(h.find("usage: elmq test FILE [options]"), std::string::npos);
  EXPECT_NE(h.find("-o, --output FILE"), std::string::npos);
  EXPECT_NE(h.find("[default: 1000:tanh]"), std::string::npos);
  for (std::size_t start = 0, end; start < h.size(); start = end + 1) {
    end = h.find('\n', start);
    if (end == std::string::npos) end = h.size();
    EXPECT_LE(end - start, 100u) << h.substr(start, end - start);
  }
}

std::string usage_error(const std::vector<std::string>& args) {
  try {
    parser().parse(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ArgParser, Errors) {
  EXPECT_EQ(usage_error({"f", "--nope"}), "unknown option '--nope' (see 'elmq test --help')");
  EXPECT_EQ(usage_error({"f", "-x"}), "unknown option '-x' (see 'elmq test --help')");
  EXPECT_EQ(usage_error({"f", "-qo"}), "unknown option '-qo' (see 'elmq test --help')");
  EXPECT_EQ(usage_error({"f", "--json=1"}), "--json takes no value");
  EXPECT_EQ(usage_error({"f", "--hidden"}), "--hidden needs a value (SPEC)");
  EXPECT_EQ(usage_error({}), "missing argument FILE (see 'elmq test --help')");
  EXPECT_EQ(usage_error({"f", "g"}), "unexpected argument 'g' (see 'elmq test --help')");
}

TEST(ParsedArgs, TypedGetters) {
  const ParsedArgs a = parser().parse({"f", "--hidden", "12", "--lambda", "abc", "-o", "+7"});
  EXPECT_EQ(a.get_int("hidden", 0, 1, 100), 12);
  EXPECT_EQ(a.get_int("output", 0, 0, 10), 7);
  EXPECT_EQ(a.get_int("absent", 5, 0, 10), 5);
  EXPECT_THROW(a.get_int("hidden", 0, 20, 100), UsageError);
  EXPECT_THROW(a.get_double("lambda", 0, 0, 1), UsageError);
  try {
    a.get_int("lambda", 0, 0, 1);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--lambda: 'abc' is not an integer");
  }
  try {
    a.get_choice("hidden", "x", {"a", "b"});
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--hidden: '12' is not one of a, b");
  }
  EXPECT_EQ(a.get_choice("absent", "b", {"a", "b"}), "b");
  const ParsedArgs big =
      parser().parse({"f", "--hidden", "99999999999999999999", "--lambda", "inf"});
  EXPECT_THROW(big.get_int("hidden", 0, 0, 10), UsageError);
  EXPECT_THROW(big.get_double("lambda", 0, 0, 1e300), UsageError);
}

TEST(JsonWriter, Document) {
  JsonWriter j;
  j.begin_object();
  j.field("s", "a\"b\\c\n\t\x01 é");
  j.field("i", std::int64_t{-3}).field("u", std::uint64_t{18446744073709551615ULL});
  j.field("d", 0.1).field("nan", std::numeric_limits<double>::quiet_NaN());
  j.field("t", true);
  j.key("arr").begin_array().value(1).value("x").begin_object().end_object().end_array();
  j.key("empty").begin_array().end_array();
  j.key("n").null();
  j.end_object();
  EXPECT_EQ(j.str(),
            "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001 é\",\"i\":-3,\"u\":18446744073709551615,"
            "\"d\":0.1,\"nan\":null,\"t\":true,\"arr\":[1,\"x\",{}],\"empty\":[],\"n\":null}");
}

}  // namespace
}  // namespace cli
}  // namespace elmq
