// Bindings of elm/: the configuration structs and ElmModel.
//
// Array arguments are declared noconvert(): a C-contiguous float32 (labels:
// int64) array is viewed in place through Eigen::Ref, anything else raises
// TypeError instead of being copied silently. The GIL is released while C++
// trains or predicts (arguments are converted before and results after that).
#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <string_view>

#include "elm/common/errors.h"
#include "elm/common/matrix.h"
#include "elm/elm_model.h"
#include "elm/hidden_layer.h"
#include "elm/ridge_solver.h"
#include "elm/scaler.h"
#include "python/src/bindings.h"

namespace py = pybind11;

namespace elmq::python {

namespace {

using Release = py::call_guard<py::gil_scoped_release>;

// The "no weights" default of the C++ API, as an argument default.
VectorXf no_weights() { return VectorXf(); }
LabelVector no_labels() { return LabelVector(); }

std::string_view bytes_view(const py::bytes& b) { return static_cast<std::string_view>(b); }

void bind_enums(py::module_& m) {
  py::enum_<Activation>(m, "Activation", "Activation of a group of hidden neurons.")
      .value("SIGMOID", Activation::kSigmoid)
      .value("TANH", Activation::kTanh)
      .value("RELU", Activation::kRelu)
      .value("SIN", Activation::kSin)
      .value("LINEAR", Activation::kLinear)
      .value("RBF", Activation::kRbf);
  py::enum_<WeightInit>(m, "WeightInit", "How projection weights are drawn.")
      .value("UNIFORM", WeightInit::kUniform)
      .value("NORMAL", WeightInit::kNormal)
      .value("TERNARY", WeightInit::kTernary);
  py::enum_<ScalingKind>(m, "ScalingKind", "Input scaling fitted on the training data.")
      .value("NONE", ScalingKind::kNone)
      .value("STANDARDIZE", ScalingKind::kStandardize)
      .value("MINMAX", ScalingKind::kMinMax);
  py::enum_<ClassWeight>(m, "ClassWeight", "Class weighting of a classification fit.")
      .value("NONE", ClassWeight::kNone)
      .value("BALANCED", ClassWeight::kBalanced);
  py::enum_<Task>(m, "Task", "What a model was trained for.")
      .value("CLASSIFICATION", Task::kClassification)
      .value("MULTILABEL", Task::kMultilabel)
      .value("REGRESSION", Task::kRegression);

  m.def("parse_activation", &parse_activation, py::arg("name"),
        "'sigmoid', 'tanh', 'relu', 'sin', 'linear' or 'rbf' -> Activation; ValueError otherwise.");
  m.def("parse_weight_init", &parse_weight_init, py::arg("name"),
        "'uniform', 'normal' or 'ternary' -> WeightInit; ValueError otherwise.");
  m.def("parse_scaling", &parse_scaling, py::arg("name"),
        "'none', 'standardize' or 'minmax' -> ScalingKind; ValueError otherwise.");
  m.def("activation_name", &activation_name, py::arg("activation"));
  m.def("weight_init_name", &weight_init_name, py::arg("init"));
  m.def("scaling_name", &scaling_name, py::arg("scaling"));
  m.def("task_name", &task_name, py::arg("task"));
}

void bind_configs(py::module_& m) {
  py::class_<NeuronGroup>(m, "NeuronGroup", "A group of hidden neurons sharing an activation.")
      .def(py::init<>())
      .def_readwrite("count", &NeuronGroup::count, "Number of neurons (>= 1).")
      .def_readwrite("activation", &NeuronGroup::activation)
      .def_readwrite("init", &NeuronGroup::init, "Weight scheme (ignored by RBF neurons).")
      .def_readwrite("weight_scale", &NeuronGroup::weight_scale,
                     "Multiplies the scheme's standard deviation.")
      .def_readwrite("bias_scale", &NeuronGroup::bias_scale,
                     "Biases are drawn from U(-bias_scale, bias_scale).")
      .def_readwrite("ternary_density", &NeuronGroup::ternary_density,
                     "P(weight != 0) for WeightInit.TERNARY, in (0, 1].")
      .def_readwrite("rbf_width", &NeuronGroup::rbf_width,
                     "sigma = rbf_width * median centre distance (RBF only), > 0.")
      .def("validate", &NeuronGroup::validate, "Raises ValueError naming a bad field.");

  py::class_<HiddenLayerConfig>(m, "HiddenLayerConfig", "Neuron groups and the seed of the layer.")
      .def(py::init<>())
      .def_readwrite("groups", &HiddenLayerConfig::groups,
                     "List of NeuronGroup (assign a new list; the getter returns a copy).")
      .def_readwrite("seed", &HiddenLayerConfig::seed, "Seed of the random weights (uint64).")
      .def_property_readonly("n_neurons", &HiddenLayerConfig::n_neurons)
      .def("describe", &HiddenLayerConfig::describe, "E.g. '1500 tanh (normal) + 500 rbf'.")
      .def("validate", &HiddenLayerConfig::validate, "Raises ValueError naming a bad field.")
      .def_static("parse_groups", &HiddenLayerConfig::parse_groups, py::arg("spec"),
                  "Parses '2000:tanh' or '1500:tanh,500:rbf' into a list of NeuronGroup.");

  py::class_<RidgeConfig>(m, "RidgeConfig", "How the ridge penalty lambda is chosen.")
      .def(py::init<>())
      .def_readwrite("auto_lambda", &RidgeConfig::auto_lambda,
                     "Choose lambda on a held-out split (True) or use `lambda_`.")
      .def_readwrite("lambda_", &RidgeConfig::lambda, "The fixed ridge penalty (>= 0).")
      .def_readwrite("relative_grid", &RidgeConfig::relative_grid,
                     "Grid r for auto_lambda: lambda = r * trace(G_fit) / L (ascending, > 0).")
      .def_readwrite("validation_fraction", &RidgeConfig::validation_fraction,
                     "Fraction of rows held out to choose lambda, in (0, 0.5].")
      .def_readwrite("split_seed", &RidgeConfig::split_seed,
                     "Seed of the hash that assigns rows to the held-out part.")
      .def("validate", &RidgeConfig::validate, "Raises ValueError naming a bad field.");

  py::class_<ElmConfig>(m, "ElmConfig", "Configuration of an ElmModel (see elm/elm_model.h).")
      .def(py::init<>())
      .def_readwrite("hidden", &ElmConfig::hidden)
      .def_readwrite("scaling", &ElmConfig::scaling)
      .def_readwrite("ridge", &ElmConfig::ridge)
      .def_readwrite("class_weight", &ElmConfig::class_weight)
      .def_readwrite("chunk_rows", &ElmConfig::chunk_rows,
                     "Rows per training chunk, in [1, 2**24]; memory ~ chunk_rows * L * 4 bytes.")
      .def_readwrite("threads", &ElmConfig::threads, "Threads for training/prediction; 0 = all.")
      .def_readwrite("proba_temperature", &ElmConfig::proba_temperature,
                     "predict_proba = softmax(decision / proba_temperature); > 0.")
      .def("validate", &ElmConfig::validate, "Raises ValueError naming a bad field.");

  py::class_<LambdaSearchResult>(m, "LambdaSearchResult", "The last automatic lambda search.")
      .def_readonly("lambda_", &LambdaSearchResult::lambda, "Chosen lambda (on the fit part).")
      .def_readonly("lambdas", &LambdaSearchResult::lambdas, "Absolute lambdas tried, ascending.")
      .def_readonly("validation_mse", &LambdaSearchResult::validation_mse,
                    "Held-out mean squared error per lambda (NaN: the solve failed).")
      .def_readonly("fit_rows", &LambdaSearchResult::fit_rows)
      .def_readonly("validation_rows", &LambdaSearchResult::validation_rows);
}

void bind_model(py::module_& m) {
  py::class_<ElmModel> cls(m, "ElmModel", R"doc(
The FP32 Extreme Learning Machine of elm/elm_model.h.

X arguments: C-contiguous float32 arrays (n_samples, n_features); labels:
int64 arrays (n_samples,); sample_weight: float32 (n_samples,) or empty.
Other dtypes or layouts raise TypeError (no silent copies). The GIL is
released during training and prediction. Pickles through to_bytes/from_bytes.
)doc");
  cls.def(py::init<ElmConfig>(), py::arg_v("config", ElmConfig(), "ElmConfig()"),
          "Raises ValueError if the config is invalid.")
      .def("__repr__", [](const ElmModel& self) {
        if (!self.fitted()) return std::string("<ElmModel (not fitted)>");
        return str_cat("<ElmModel ", task_name(self.task()), ": ", self.n_features(),
                       " features -> ", self.config().hidden.describe(), " -> ", self.n_outputs(),
                       " outputs>");
      });

  // ---------------------------------------------------------------- training
  cls.def(
         "fit",
         [](ElmModel& self, const ConstMatrixRef& x, const ConstLabelRef& y,
            const ConstVectorRef& w) { self.fit(x, y, w); },
         py::arg("x").noconvert(), py::arg("y").noconvert(),
         py::arg("sample_weight").noconvert() = no_weights(), Release(),
         "Multiclass fit (labels: any int64 values, at least 2 distinct).")
      .def(
          "fit_regression",
          [](ElmModel& self, const ConstMatrixRef& x, const ConstMatrixRef& y,
             const ConstVectorRef& w) { self.fit_regression(x, y, w); },
          py::arg("x").noconvert(), py::arg("y").noconvert(),
          py::arg("sample_weight").noconvert() = no_weights(), Release(),
          "Multi-output regression; y is float32 (n_samples, n_outputs).")
      .def(
          "fit_multilabel",
          [](ElmModel& self, const ConstMatrixRef& x, const ConstMatrixRef& y,
             const ConstVectorRef& w) { self.fit_multilabel(x, y, w); },
          py::arg("x").noconvert(), py::arg("y").noconvert(),
          py::arg("sample_weight").noconvert() = no_weights(), Release(),
          "Multilabel fit; y is float32 (n_samples, n_labels) holding 0 and 1.")
      .def(
          "partial_fit",
          [](ElmModel& self, const ConstMatrixRef& x, const ConstLabelRef& y,
             const ConstLabelRef& classes,
             const ConstVectorRef& w) { self.partial_fit(x, y, classes, w); },
          py::arg("x").noconvert(), py::arg("y").noconvert(),
          py::arg("classes").noconvert() = no_labels(),
          py::arg("sample_weight").noconvert() = no_weights(), Release(),
          "Accumulates a chunk and re-solves; `classes` is required on the first call.")
      .def(
          "partial_fit_regression",
          [](ElmModel& self, const ConstMatrixRef& x, const ConstMatrixRef& y,
             const ConstVectorRef& w) { self.partial_fit_regression(x, y, w); },
          py::arg("x").noconvert(), py::arg("y").noconvert(),
          py::arg("sample_weight").noconvert() = no_weights(), Release(),
          "Incremental multi-output regression: accumulates a chunk and re-solves.")
      .def(
          "accumulate",
          [](ElmModel& self, const ConstMatrixRef& x, const ConstLabelRef& y,
             const ConstLabelRef& classes,
             const ConstVectorRef& w) { self.accumulate(x, y, classes, w); },
          py::arg("x").noconvert(), py::arg("y").noconvert(),
          py::arg("classes").noconvert() = no_labels(),
          py::arg("sample_weight").noconvert() = no_weights(), Release(),
          "Accumulates a classification chunk without solving (call solve() afterwards).")
      .def(
          "fit_scaler", [](ElmModel& self, const ConstMatrixRef& x) { self.fit_scaler(x); },
          py::arg("x").noconvert(), Release(),
          "Fits the scaler explicitly, before the first partial_fit/accumulate.")
      .def(
          "solve", [](ElmModel& self) { self.solve(); }, Release(),
          "Solves the output weights from the accumulated statistics.")
      .def(
          "resolve_with_lambda",
          [](ElmModel& self, double lambda) { self.resolve_with_lambda(lambda); },
          py::arg("lambda_"), Release(), "Re-solves with a given lambda (keeps the statistics).")
      .def("set_threads", &ElmModel::set_threads, py::arg("threads"),
           "Threads for later training and batch prediction (0 = all cores); not stored in files.")
      .def("drop_training_state", &ElmModel::drop_training_state,
           "Frees the L x L statistics (partial_fit is impossible afterwards).");

  // ---------------------------------------------------------------- prediction
  cls.def(
         "decision_function",
         [](const ElmModel& self, const ConstMatrixRef& x) { return self.decision_function(x); },
         py::arg("x").noconvert(), Release(), "Raw outputs H beta, float32 (n_samples, n_outputs).")
      .def("predict", &ElmModel::predict, py::arg("x").noconvert(), Release(),
           "Class labels, int64 (n_samples,) (classification models).")
      .def("predict_proba", &ElmModel::predict_proba, py::arg("x").noconvert(), Release(),
           "softmax(decision / proba_temperature), float32 (n_samples, n_classes).")
      .def("predict_multilabel", &ElmModel::predict_multilabel, py::arg("x").noconvert(), Release(),
           "0/1 float32 matrix (n_samples, n_labels) (multilabel models).")
      .def("predict_regression", &ElmModel::predict_regression, py::arg("x").noconvert(), Release(),
           "Regression outputs, float32 (n_samples, n_outputs).")
      .def("score", &ElmModel::score, py::arg("x").noconvert(), py::arg("y").noconvert(), Release(),
           "Accuracy on int64 labels.")
      .def("score_regression", &ElmModel::score_regression, py::arg("x").noconvert(),
           py::arg("y").noconvert(), Release(), "R^2 averaged over outputs.")
      .def("hidden_activations", &ElmModel::hidden_activations, py::arg("x").noconvert(), Release(),
           "Hidden activations of scaled inputs, float32 (n_samples, n_hidden).");

  // ---------------------------------------------------------------- state
  cls.def_property_readonly("fitted", &ElmModel::fitted)
      .def_property_readonly("task", &ElmModel::task)
      .def_property_readonly("config", &ElmModel::config, "A copy of the model's ElmConfig.")
      .def_property_readonly("n_features", &ElmModel::n_features)
      .def_property_readonly("n_hidden", &ElmModel::n_hidden)
      .def_property_readonly("n_outputs", &ElmModel::n_outputs)
      .def_property_readonly("classes", &ElmModel::classes, "Class labels (int64 copy).")
      .def_property_readonly("lambda_", &ElmModel::lambda, "The ridge penalty of the solution.")
      .def_property_readonly("lambda_search", &ElmModel::lambda_search,
                             "The last automatic lambda search (empty lists if fixed).")
      .def_property_readonly("has_training_state", &ElmModel::has_training_state)
      .def_property_readonly("beta", &ElmModel::beta, "Output weights, float32 copy (L, C).")
      .def_property_readonly(
          "hidden_weights", [](const ElmModel& self) { return self.hidden().weights(); },
          "Hidden weights, float32 copy (L, d); RBF rows hold centres.")
      .def_property_readonly(
          "hidden_bias", [](const ElmModel& self) { return self.hidden().bias(); },
          "Hidden biases, float32 copy (L,).")
      .def_property_readonly(
          "scaler_offset", [](const ElmModel& self) { return self.scaler().offset(); },
          "x' = (x - offset) * scale: offset, float32 copy (d,).")
      .def_property_readonly(
          "scaler_scale", [](const ElmModel& self) { return self.scaler().scale(); },
          "x' = (x - offset) * scale: scale, float32 copy (d,).");

  // ---------------------------------------------------------------- files
  cls.def(
         "to_bytes",
         [](const ElmModel& self, bool include_training_state) {
           std::string image;
           {
             py::gil_scoped_release release;
             image = self.to_bytes(include_training_state);
           }
           return py::bytes(image);
         },
         py::arg("include_training_state") = false,
         "The model as an elmq file image (kind 'elm'), the bytes ElmModel::save writes.")
      .def_static(
          "from_bytes",
          [](const py::bytes& image) {
            const std::string_view view = bytes_view(image);
            py::gil_scoped_release release;
            return ElmModel::from_bytes(view);
          },
          py::arg("image"), "Reads a file image; raises FormatError (a ValueError) if invalid.")
      .def("save", &ElmModel::save, py::arg("path"), py::arg("include_training_state") = false,
           Release(), "Writes the model file atomically; raises OSError if it cannot.")
      .def_static("load", &ElmModel::load, py::arg("path"), Release(),
                  "Reads a model file; OSError if unreadable, FormatError if invalid.")
      .def(py::pickle(
          [](const ElmModel& self) { return py::bytes(self.to_bytes(self.has_training_state())); },
          [](const py::bytes& image) { return ElmModel::from_bytes(bytes_view(image)); }));
}

}  // namespace

void bind_elm(py::module_& m) {
  bind_enums(m);
  bind_configs(m);
  bind_model(m);
}

}  // namespace elmq::python
