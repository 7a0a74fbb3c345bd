// Bindings of quant/: quantized ELMs (quantize_elm), the MLP baseline and its
// quantized form (quantize_mlp). Same conventions as bind_elm.cpp: arrays are
// noconvert() (float32 / int64, C-contiguous, viewed in place), the GIL is
// released while C++ works, options arrive as the names the CLI uses.
#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "elm/common/errors.h"
#include "elm/common/matrix.h"
#include "elm/elm_model.h"
#include "python/src/bind_files.h"
#include "python/src/bindings.h"
#include "quant/elm/quantize_elm.h"
#include "quant/elm/quantized_elm.h"
#include "quant/cpu_features.h"
#include "quant/formats.h"
#include "quant/mlp/mlp.h"
#include "quant/mlp/quantized_mlp.h"

namespace py = pybind11;

namespace elmq::python {

namespace {

using Release = py::call_guard<py::gil_scoped_release>;

// NaN (unknown) -> None, for the info dictionaries.
py::object maybe(double v) { return std::isnan(v) ? py::none() : py::cast(v); }

py::dict elm_info(const QuantizedElm& m) {
  const ElmQuantInfo& i = m.info();
  py::dict d;
  d["w_format"] = format_name(m.input_weights().format());
  d["beta_format"] = format_name(m.output_weights().format());
  d["beta_method"] = quant_method_name(i.beta_method);
  d["inputs"] = input_quant_name(m.input_quant());
  d["activations"] = hidden_quant_name(m.hidden_quant());
  d["w_exact"] = i.w_exact;
  d["beta_resolved"] = i.beta_resolved;
  d["lambda"] = i.lambda;
  d["w_relative_error"] = i.w_relative_error;
  d["beta_loss"] = maybe(i.beta_loss);
  d["beta_rtn_loss"] = maybe(i.beta_rtn_loss);
  d["ridge_objective"] = maybe(i.ridge_objective);
  d["gptq_rtn_rows"] = i.gptq_rtn_rows;
  d["seconds"] = i.w_seconds + i.solve_seconds + i.beta_seconds;
  d["bytes"] = m.bytes();
  d["fp32_bytes"] = m.fp32_bytes();
  d["bits_per_weight"] = m.bits_per_weight();
  return d;
}

py::dict mlp_info(const QuantizedMlp& m) {
  const MlpQuantInfo& i = m.info();
  py::dict d;
  std::vector<std::string> formats;
  for (const QuantizedMlpLayer& l : m.layers()) formats.push_back(format_name(l.weights.format()));
  d["formats"] = formats;
  d["method"] = weight_quant_method_name(i.method);
  d["activations"] = activation_scheme_name(i.activations);
  d["calibration_rows"] = i.calibration_rows;
  d["layer_error"] = i.layer_error;
  d["seconds"] = i.seconds;
  d["weight_bytes"] = m.weight_bytes();
  d["bytes"] = m.bytes();
  d["bits_per_weight"] = m.bits_per_weight();
  return d;
}

// Shared prediction methods (classification).
template <class Cls>
void bind_classifier_prediction(Cls& cls) {
  using M = typename Cls::type;
  cls.def(
         "decision_function",
         [](const M& self, const ConstMatrixRef& x) { return self.decision_function(x); },
         py::arg("x").noconvert(), Release(), "Raw outputs (logits), float32 (n_samples, n_outputs).")
      .def("predict", &M::predict, py::arg("x").noconvert(), Release(),
           "Class labels, int64 (n_samples,).")
      .def("predict_proba", &M::predict_proba, py::arg("x").noconvert(), Release(),
           "Class probabilities, float32 (n_samples, n_classes).")
      .def("score", &M::score, py::arg("x").noconvert(), py::arg("y").noconvert(), Release(),
           "Accuracy on int64 labels.")
      .def("set_threads", &M::set_threads, py::arg("threads"),
           "Threads for batch prediction (0 = all cores); not stored in files.")
      .def_property_readonly("n_features", &M::n_features)
      .def_property_readonly("n_outputs", &M::n_outputs)
      .def_property_readonly("classes", &M::classes, "Class labels (int64 copy).");
}

ElmQuantConfig elm_quant_config(const std::string& format, const std::string& method,
                                const std::string& w_format, const std::string& activations,
                                const std::string& inputs, double lambda_scale, int threads) {
  ElmQuantConfig c;
  c.beta_format = parse_format(format);
  c.beta_method = parse_quant_method(method);
  c.w_format = parse_format(w_format);
  c.hidden = parse_hidden_quant(activations);
  c.input = parse_input_quant(inputs);
  c.lambda_scale = lambda_scale;
  c.threads = threads;
  c.validate();
  return c;
}

void bind_quantized_elm(py::module_& m) {
  m.def("quant_format_names", [] {
    std::vector<std::string> names;
    for (QuantFormat f : all_formats()) names.push_back(format_name(f));
    return names;
  }, "Every storage format, as quantize() and the CLI name them.");
  m.def("kernel_path", [] { return std::string(kernel_path_name(active_kernel_path())); },
        "The kernel path quantized products use: scalar, avx2, avxvnni, avx512vnni or\n"
        "avx512bf16 (the best the CPU supports, lowered by ELMQ_KERNEL_PATH when the\n"
        "first product ran).");
  m.def("kernel_dispatch_report", &kernel_dispatch_report,
        "The kernel path with the CPU features and ELMQ_KERNEL_PATH behind the choice.");

  py::class_<QuantizedElm> cls(
      m, "QuantizedElm",
      "An ELM whose weights are stored in quantized formats; prediction runs on the integer\n"
      "kernels. Made by quantize_elm().");
  bind_classifier_prediction(cls);
  cls.def("predict_regression", &QuantizedElm::predict_regression, py::arg("x").noconvert(),
          Release(), "Regression outputs, float32 (n_samples, n_outputs).")
      .def("predict_multilabel", &QuantizedElm::predict_multilabel, py::arg("x").noconvert(),
           Release(), "0/1 float32 matrix (n_samples, n_labels) (multilabel models).")
      .def("score_regression", &QuantizedElm::score_regression, py::arg("x").noconvert(),
           py::arg("y").noconvert(), Release(), "R^2 averaged over outputs.")
      .def(
          "decision_function_reference",
          [](const QuantizedElm& self, const ConstMatrixRef& x) {
            return self.decision_function_reference(x);
          },
          py::arg("x").noconvert(), Release(),
          "The same model with float activations (dequantized weights): the accuracy reference.")
      .def_property_readonly("fitted", &QuantizedElm::fitted)
      .def_property_readonly("task", &QuantizedElm::task)
      .def_property_readonly("n_hidden", &QuantizedElm::n_hidden)
      .def_property_readonly("bytes", &QuantizedElm::bytes,
                             "Parameter storage in bytes (weights in their formats, biases, scaler).")
      .def_property_readonly("fp32_bytes", &QuantizedElm::fp32_bytes)
      .def_property_readonly("bits_per_weight", &QuantizedElm::bits_per_weight)
      .def_property_readonly("info", &elm_info, "What quantization did (formats, method, losses).");
  bind_files(cls, "quantized-elm");

  m.def(
      "quantize_elm",
      [](const ElmModel& model, const std::string& format, const std::string& method,
         const std::string& w_format, const std::string& activations, const std::string& inputs,
         double lambda_scale, int threads, std::optional<ConstMatrixRef> x,
         std::optional<ConstLabelRef> labels, std::optional<ConstMatrixRef> targets,
         const ConstVectorRef& sample_weight) {
        const ElmQuantConfig c =
            elm_quant_config(format, method, w_format, activations, inputs, lambda_scale, threads);
        ELMQ_CHECK_ARG(!(labels && targets), "quantize_elm: give labels or targets, not both");
        ELMQ_CHECK_ARG(!x == !(labels || targets),
                       "quantize_elm: the training data is x with labels (or targets), together");
        py::gil_scoped_release release;
        if (!x) return quantize_elm(model, c);
        if (labels) return quantize_elm(model, c, *x, *labels, sample_weight);
        return quantize_elm_targets(model, c, *x, *targets, sample_weight);
      },
      py::arg("model"), py::arg("format") = "int8", py::arg("method") = "rtn",
      py::arg("w_format") = "f32", py::arg("activations") = "dynamic",
      py::arg("inputs") = "dynamic", py::arg("lambda_scale") = 1.0, py::arg("threads") = 0,
      py::arg("x").noconvert() = py::none(), py::arg("labels").noconvert() = py::none(),
      py::arg("targets").noconvert() = py::none(),
      py::arg("sample_weight").noconvert() = VectorXf(),
      "Quantizes a fitted ElmModel (quant/elm/quantize_elm.h): beta to `format` by 'rtn' or\n"
      "'gptq' (Hessian G + lambda I of the training statistics), W to `w_format` (beta is then\n"
      "re-solved on the quantized layer, which needs the training data x with labels or\n"
      "targets; so does GPTQ on a model saved without its training state). activations:\n"
      "'dynamic' or 'static'; inputs: 'dynamic' or 'uint8' (byte data such as pixels).");
}

void bind_mlp(py::module_& m) {
  py::class_<Mlp> cls(m, "Mlp",
                      "The deep baseline: a ReLU MLP classifier trained by backprop (Adam or\n"
                      "SGD with momentum), softmax cross-entropy (quant/mlp/mlp.h).");
  cls.def(py::init([](std::vector<Index> hidden, int epochs, Index batch_size,
                      const std::string& optimizer, double learning_rate, double weight_decay,
                      double momentum, double validation_fraction, int patience,
                      bool restore_best, const std::string& scaling, std::uint64_t seed,
                      int threads) {
            MlpConfig c;
            c.hidden = std::move(hidden);
            c.epochs = epochs;
            c.batch_size = batch_size;
            c.optimizer.kind = parse_optimizer(optimizer);
            c.optimizer.learning_rate = learning_rate;
            c.optimizer.weight_decay = weight_decay;
            c.optimizer.momentum = momentum;
            c.validation_fraction = validation_fraction;
            c.patience = patience;
            c.restore_best = restore_best;
            c.scaling = parse_scaling(scaling);
            c.seed = seed;
            c.threads = threads;
            c.validate();
            return Mlp(c);
          }),
          py::arg("hidden") = std::vector<Index>{256, 256}, py::arg("epochs") = 10,
          py::arg("batch_size") = 256, py::arg("optimizer") = "adam",
          py::arg("learning_rate") = 1e-3, py::arg("weight_decay") = 0.0,
          py::arg("momentum") = 0.9, py::arg("validation_fraction") = 0.1,
          py::arg("patience") = 0, py::arg("restore_best") = true,
          py::arg("scaling") = "minmax", py::arg("seed") = 42, py::arg("threads") = 0,
          "MlpConfig's fields; ValueError naming a bad one.")
      .def(
          "fit",
          [](Mlp& self, const ConstMatrixRef& x, const ConstLabelRef& y) { self.fit(x, y); },
          py::arg("x").noconvert(), py::arg("y").noconvert(), Release(),
          "Fits scaler and weights on int64 labels (>= 2 classes); replaces any previous state.");
  bind_classifier_prediction(cls);
  cls.def_property_readonly("fitted", &Mlp::fitted)
      .def_property_readonly("sizes", &Mlp::sizes, "Layer widths: inputs, hidden..., classes.")
      .def_property_readonly("n_parameters", &Mlp::n_parameters)
      .def_property_readonly(
          "history",
          [](const Mlp& self) {
            const TrainingHistory& h = self.history();
            py::list epochs;
            for (const EpochReport& e : h.epochs) {
              py::dict d;
              d["epoch"] = e.epoch;
              d["train_loss"] = e.train_loss;
              d["val_loss"] = e.val_loss;
              d["val_accuracy"] = e.val_accuracy;
              d["seconds"] = e.epoch_seconds;
              epochs.append(d);
            }
            py::dict d;
            d["epochs"] = epochs;
            d["best_epoch"] = h.best_epoch;
            d["stopped_early"] = h.stopped_early;
            d["seconds"] = h.seconds;
            return d;
          },
          "The last fit: per-epoch losses and validation accuracy, best epoch, time.");
  bind_files(cls, "mlp");

  py::class_<QuantizedMlp> q(m, "QuantizedMlp",
                             "An MLP with quantized weights on the integer kernels; made by "
                             "quantize_mlp().");
  bind_classifier_prediction(q);
  q.def_property_readonly("fitted", [](const QuantizedMlp& self) { return !self.empty(); })
      .def_property_readonly("bytes", &QuantizedMlp::bytes)
      .def_property_readonly("bits_per_weight", &QuantizedMlp::bits_per_weight)
      .def_property_readonly("info", &mlp_info, "What quantization did.");
  bind_files(q, "quantized-mlp");

  m.def(
      "quantize_mlp",
      [](const Mlp& model, const std::string& format, const std::string& method,
         const std::string& activations, const std::string& calibration, int threads,
         const ConstMatrixRef& x) {
        MlpQuantConfig c;
        c.format = parse_format(format);
        c.method = parse_weight_quant_method(method);
        c.activations = parse_activation_scheme(activations);
        c.calibration.method = parse_calibration_method(calibration);
        c.threads = threads;
        c.validate();
        ELMQ_CHECK_ARG(!c.needs_calibration() || x.rows() > 0, "quantize_mlp: method '", method,
                       "' with activations '", activations,
                       "' needs calibration rows x (a few thousand training rows)");
        py::gil_scoped_release release;
        return quantize_mlp(model, c, x);
      },
      py::arg("model"), py::arg("format") = "int8", py::arg("method") = "rtn",
      py::arg("activations") = "dynamic", py::arg("calibration") = "minmax",
      py::arg("threads") = 0, py::arg("x").noconvert() = RowMatrixXf(),
      "Quantizes a fitted Mlp (quant/mlp/quantized_mlp.h): every layer's weights to `format`\n"
      "by 'rtn', 'gptq' or 'awq'; activations 'dynamic' (int8 per row) or 'static' (uint8\n"
      "ranges calibrated on x by 'minmax', 'moving-average', 'percentile' or 'mse'). GPTQ,\n"
      "AWQ and static activations need calibration rows x.");
}

}  // namespace

void bind_quant(py::module_& m) {
  bind_quantized_elm(m);
  bind_mlp(m);
}

}  // namespace elmq::python
