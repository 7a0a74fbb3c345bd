// The MLP baseline's subcommands (quant/mlp/): `elmq train-mlp`, the MLP branch
// of `elmq quantize`, and the details of MLP files for `elmq info`.
// Same conventions as commands.h: a command gets its arguments after the
// command name, returns the exit code, throws UsageError for a bad command
// line (exit 2) and elmq exceptions for other failures (exit 1).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/json.h"

namespace elmq {
namespace cli {

/// `elmq train-mlp`: trains the MLP baseline (optionally followed by
/// quantization-aware fine-tuning), reports accuracy and time, saves it.
int run_train_mlp(const Args& args);

/// `elmq quantize MODEL -o OUT ...` for an FP32 MLP file (FileKind::kMlp):
/// quantizes it (RTN / GPTQ / AWQ, dynamic or static INT8 activations) with
/// calibration rows from --dataset or --train-csv, reports test accuracy,
/// bytes and bits per weight, and saves a FileKind::kQuantizedMlp file.
/// `args` are the arguments after "quantize" (MODEL among them); `elmq quantize`
/// calls this after peek_file_kind() found kMlp.
int run_quantize_mlp(const Args& args);

/// The details of an MLP or quantized-MLP file for `elmq info`. Decoding
/// happens in the constructor, so a corrupt file fails before anything is printed:
///
///   std::unique_ptr<MlpFileDetails> mlp;
///   if (kind == FileKind::kMlp || kind == FileKind::kQuantizedMlp)
///     mlp = std::make_unique<MlpFileDetails>(bytes);
///   ... print the header ...
///   if (mlp) {
///     if (json) { j.field("details", true); mlp->add_json(j); j.end_object(); print j; }
///     else std::cout << mlp->text();
///   }
class MlpFileDetails {
 public:
  /// @throws FormatError if the image is invalid or of another kind.
  explicit MlpFileDetails(std::string_view bytes);
  ~MlpFileDetails();
  MlpFileDetails(const MlpFileDetails&) = delete;
  MlpFileDetails& operator=(const MlpFileDetails&) = delete;

  /// Adds the detail fields to an open JSON object (which stays open).
  void add_json(JsonWriter& j) const;
  /// Lines "label:          value" in the layout of `elmq info`.
  std::string text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cli
}  // namespace elmq
