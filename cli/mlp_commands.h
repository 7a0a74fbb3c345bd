// The MLP baseline's subcommands (quant/mlp/): `elmq train-mlp`, the MLP branch
// of `elmq quantize`, and a summary of MLP files for `elmq info`.
// Same conventions as commands.h: a command gets its arguments after the
// command name, returns the exit code, throws UsageError for a bad command
// line (exit 2) and elmq exceptions for other failures (exit 1).
#pragma once

#include <string>
#include <string_view>

#include "cli/commands.h"

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

/// A multi-line description of an MLP or quantized MLP file image (layers,
/// formats, bytes, training history) for `elmq info`; the image must be of
/// kind kMlp or kQuantizedMlp. @throws FormatError if it is invalid.
std::string describe_mlp_file(std::string_view bytes);

}  // namespace cli
}  // namespace elmq
