// elmq info: what a model file holds.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/json.h"
#include "cli/mlp_commands.h"
#include "elm/common/errors.h"
#include "elm/common/serialize.h"
#include "elm/elm_model.h"
#include "quant/elm/quantized_elm.h"

namespace elmq {
namespace cli {

namespace {

ArgParser make_parser() {
  ArgParser p("elmq info", "elmq info MODEL [--json]",
              "Describes an elmq file: its kind and format version, and for ELM models the\n"
              "task, input width, hidden layer, outputs, classes, lambda and scaling; for\n"
              "quantized ELMs also the weight formats, method, bytes and bits per weight;\n"
              "for MLPs the layer sizes, training settings and (quantized) formats.");
  p.positional("MODEL", "an elmq file");
  p.flag("json", "print one JSON object on stdout instead of text");
  return p;
}

std::uint32_t u32_at(const std::string& bytes, std::size_t offset) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return v;
}

// "classes:" line of the text output: the first 20 labels, then the count.
void print_classes(const LabelVector& classes) {
  std::cout << "classes:        ";
  const Index shown = std::min<Index>(classes.size(), 20);
  for (Index c = 0; c < shown; ++c) std::cout << (c ? " " : "") << classes[c];
  if (classes.size() > shown) std::cout << " ... (" << classes.size() << " in all)";
  std::cout << "\n";
}

// Quantized ELM (FileKind::kQuantizedElm): the ELM fields plus the formats.
int describe_quantized_elm(const QuantizedElm& m, JsonWriter& j, bool json) {
  const ElmQuantInfo& info = m.info();
  const bool classification = m.task() == Task::kClassification;
  const double ratio = static_cast<double>(m.fp32_bytes()) / static_cast<double>(m.bytes());
  if (json) {
    j.field("details", true);
    j.field("task", task_name(m.task())).field("n_features", m.n_features());
    j.field("hidden", m.hidden_config().describe()).field("n_hidden", m.n_hidden());
    j.field("hidden_seed", static_cast<std::uint64_t>(m.hidden_config().seed));
    j.field("n_outputs", m.n_outputs());
    if (classification) {
      j.key("classes").begin_array();
      for (Index c = 0; c < m.classes().size(); ++c) j.value(m.classes()[c]);
      j.end_array();
    }
    j.field("scaling", scaling_name(m.scaler().kind()));
    j.field("w_format", format_name(m.input_weights().format()));
    j.field("beta_format", format_name(m.output_weights().format()));
    j.field("beta_method", quant_method_name(info.beta_method));
    j.field("inputs", input_quant_name(m.input_quant()));
    j.field("activations", hidden_quant_name(m.hidden_quant()));
    j.field("w_exact", info.w_exact).field("beta_resolved", info.beta_resolved);
    j.field("lambda", info.lambda).field("beta_loss", info.beta_loss);
    j.field("beta_rtn_loss", info.beta_rtn_loss).field("ridge_objective", info.ridge_objective);
    j.field("parameter_bytes", m.bytes()).field("fp32_bytes", m.fp32_bytes());
    j.field("compression", ratio).field("bits_per_weight", m.bits_per_weight());
    j.field("w_bits_per_weight", m.input_weights().bits_per_weight());
    j.field("beta_bits_per_weight", m.output_weights().bits_per_weight());
    j.end_object();
    std::cout << j.str() << "\n";
    return 0;
  }
  std::cout << "task:           " << task_name(m.task()) << "\n"
            << "features:       " << m.n_features() << "\n"
            << "hidden:         " << m.hidden_config().describe() << " = " << m.n_hidden()
            << " neurons, seed " << m.hidden_config().seed << "\n"
            << "outputs:        " << m.n_outputs() << "\n";
  if (classification) print_classes(m.classes());
  std::cout << "scaling:        " << scaling_name(m.scaler().kind())
            << (m.input_quant() == InputQuant::kUint8 ? " (folded into W)" : "") << "\n"
            << "W:              " << format_name(m.input_weights().format()) << ", "
            << fixed(m.input_weights().bits_per_weight(), 3) << " bits per weight"
            << (info.w_exact ? " (exact)" : "") << "\n"
            << "beta:           " << format_name(m.output_weights().format()) << " by "
            << quant_method_name(info.beta_method) << ", "
            << fixed(m.output_weights().bits_per_weight(), 3) << " bits per weight"
            << (info.beta_resolved ? ", re-solved" : "") << ", lambda " << info.lambda << "\n"
            << "kernels:        inputs " << input_quant_name(m.input_quant()) << ", activations "
            << hidden_quant_name(m.hidden_quant()) << "\n"
            << "parameters:     " << m.bytes() << " bytes (FP32 " << m.fp32_bytes() << ", "
            << fixed(ratio, 2) << "x smaller), " << fixed(m.bits_per_weight(), 3)
            << " bits per weight\n";
  return 0;
}

}  // namespace

int run_info(const Args& args) {
  const ArgParser parser = make_parser();
  const ParsedArgs a = parser.parse(args);
  if (a.flag("help")) {
    std::cout << parser.help();
    return 0;
  }
  const std::string path = a.positionals()[0];
  const std::string bytes = read_file_bytes(path);
  const FileKind kind = peek_file_kind(bytes);  // validates magic, size and checksum
  // Header layout (elm/common/serialize.h): container version at 8, kind version at 16.
  const std::uint32_t container_version = u32_at(bytes, 8);
  const std::uint32_t kind_version = u32_at(bytes, 16);
  const bool json = a.flag("json");
  // Decode before printing anything, so that a corrupt file gives only the error line.
  std::unique_ptr<ElmModel> model;
  if (kind == FileKind::kElm) model = std::make_unique<ElmModel>(ElmModel::from_bytes(bytes));
  std::unique_ptr<QuantizedElm> qmodel;
  if (kind == FileKind::kQuantizedElm) {
    qmodel = std::make_unique<QuantizedElm>(QuantizedElm::from_bytes(bytes));
  }
  std::unique_ptr<MlpFileDetails> mlp;
  if (kind == FileKind::kMlp || kind == FileKind::kQuantizedMlp) {
    mlp = std::make_unique<MlpFileDetails>(bytes);
  }

  JsonWriter j;
  j.begin_object().field("command", "info").field("file", path);
  j.field("bytes", static_cast<std::uint64_t>(bytes.size()));
  j.field("kind", file_kind_name(kind));
  j.field("container_version", static_cast<std::uint64_t>(container_version));
  j.field("kind_version", static_cast<std::uint64_t>(kind_version));
  if (!json) {
    std::cout << "file:           " << path << " (" << bytes.size() << " bytes)\n"
              << "kind:           " << file_kind_name(kind) << " (format version " << kind_version
              << ", container version " << container_version << ")\n";
  }

  if (qmodel) return describe_quantized_elm(*qmodel, j, json);
  if (mlp) {
    if (json) {
      j.field("details", true);
      mlp->add_json(j);
      j.end_object();
      std::cout << j.str() << "\n";
    } else {
      std::cout << mlp->text();
    }
    return 0;
  }
  if (kind != FileKind::kElm) {
    // Other kinds are described by the modules that own them once they exist.
    j.field("details", false).end_object();
    if (json) {
      std::cout << j.str() << "\n";
    } else {
      std::cout << "details:        not available for this kind in this version of elmq\n";
    }
    return 0;
  }

  const ElmModel& m = *model;
  const ElmConfig& cfg = m.config();
  const bool classification = m.task() == Task::kClassification;
  if (json) {
    j.field("details", true);
    j.field("task", task_name(m.task())).field("n_features", m.n_features());
    j.field("hidden", cfg.hidden.describe()).field("n_hidden", m.n_hidden());
    j.key("hidden_groups").begin_array();
    for (const auto& g : cfg.hidden.groups) {
      j.begin_object().field("count", g.count).field("activation", activation_name(g.activation));
      j.field("init", weight_init_name(g.init));
      j.end_object();
    }
    j.end_array();
    j.field("hidden_seed", static_cast<std::uint64_t>(cfg.hidden.seed));
    j.field("n_outputs", m.n_outputs());
    if (classification) {
      j.key("classes").begin_array();
      for (Index c = 0; c < m.classes().size(); ++c) j.value(m.classes()[c]);
      j.end_array();
    }
    j.field("lambda", m.lambda()).field("lambda_auto", cfg.ridge.auto_lambda);
    j.field("scaling", scaling_name(m.scaler().kind()));
    j.field("class_weight", cfg.class_weight == ClassWeight::kBalanced ? "balanced" : "none");
    j.field("training_state", m.has_training_state());
    j.end_object();
    std::cout << j.str() << "\n";
    return 0;
  }
  std::cout << "task:           " << task_name(m.task()) << "\n"
            << "features:       " << m.n_features() << "\n"
            << "hidden:         " << cfg.hidden.describe() << " = " << m.n_hidden()
            << " neurons, seed " << cfg.hidden.seed << "\n"
            << "outputs:        " << m.n_outputs() << "\n";
  if (classification) print_classes(m.classes());
  std::cout << "lambda:         " << m.lambda() << (cfg.ridge.auto_lambda ? " (auto)" : " (fixed)")
            << "\n"
            << "scaling:        " << scaling_name(m.scaler().kind()) << "\n"
            << "class weight:   "
            << (cfg.class_weight == ClassWeight::kBalanced ? "balanced" : "none") << "\n"
            << "training state: " << (m.has_training_state() ? "stored" : "not stored") << "\n";
  return 0;
}

}  // namespace cli
}  // namespace elmq
