// Bindings of elm/online_elm.h: the online sequential ELM (recursive least
// squares on the output weights). Same conventions as bind_elm.cpp.
#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "elm/common/matrix.h"
#include "elm/elm_model.h"
#include "elm/online_elm.h"
#include "python/src/bind_files.h"
#include "python/src/bindings.h"

namespace py = pybind11;

namespace elmq::python {

namespace {

using Release = py::call_guard<py::gil_scoped_release>;

OnlineConfig online_config(double forgetting, const std::string& precision, bool keep_statistics,
                           std::int64_t resolve_period, bool grow_classes,
                           std::int64_t block_rows) {
  OnlineConfig c;
  c.forgetting = forgetting;
  c.precision = parse_state_precision(precision);
  c.keep_statistics = keep_statistics;
  c.resolve_period = resolve_period;
  c.grow_classes = grow_classes;
  c.block_rows = block_rows;
  c.validate();
  return c;
}

}  // namespace

void bind_online(py::module_& m) {
  py::class_<OnlineElm> cls(
      m, "OnlineElm",
      "Online sequential ELM (elm/online_elm.h): the output weights follow a stream by recursive\n"
      "least squares (Sherman-Morrison / Woodbury), with forgetting, unlearning and classes that\n"
      "appear mid-stream. Runs on the calling thread.");
  cls.def_static(
         "create",
         [](const ElmConfig& config, const ConstMatrixRef& x_init, const ConstLabelRef& classes,
            double forgetting, const std::string& precision, bool keep_statistics,
            std::int64_t resolve_period, bool grow_classes, std::int64_t block_rows) {
           const OnlineConfig oc = online_config(forgetting, precision, keep_statistics,
                                                 resolve_period, grow_classes, block_rows);
           py::gil_scoped_release release;
           return OnlineElm::create(config, oc, x_init, classes);
         },
         py::arg("config"), py::arg("x_init").noconvert(), py::arg("classes").noconvert(),
         py::arg("forgetting") = 1.0, py::arg("precision") = "float32",
         py::arg("keep_statistics") = true, py::arg("resolve_period") = 0,
         py::arg("grow_classes") = true, py::arg("block_rows") = 64,
         "A classifier from nothing (ridge prior, lambda = config.ridge.lambda_ > 0); x_init fits\n"
         "the scaler and is not learned; classes may be empty when grow_classes is set.")
      .def_static(
          "from_model",
          [](const ElmModel& model, double forgetting, const std::string& precision,
             bool keep_statistics, std::int64_t resolve_period, bool grow_classes,
             std::int64_t block_rows) {
            const OnlineConfig oc = online_config(forgetting, precision, keep_statistics,
                                                  resolve_period, grow_classes, block_rows);
            py::gil_scoped_release release;
            return OnlineElm::from_model(model, oc);
          },
          py::arg("model"), py::arg("forgetting") = 1.0, py::arg("precision") = "float32",
          py::arg("keep_statistics") = true, py::arg("resolve_period") = 0,
          py::arg("grow_classes") = true, py::arg("block_rows") = 64,
          "Continues a fitted batch model (its statistics, if kept, seed the state).")
      .def(
          "learn",
          [](OnlineElm& self, const ConstMatrixRef& x, const ConstLabelRef& y,
             const ConstVectorRef& w) { self.learn(x, y, w); },
          py::arg("x").noconvert(), py::arg("y").noconvert(),
          py::arg("sample_weight").noconvert() = VectorXf(), Release(),
          "Learns rows in order (Woodbury blocks of block_rows); nothing is learned on bad input.")
      .def(
          "unlearn",
          [](OnlineElm& self, const ConstMatrixRef& x, const ConstLabelRef& y,
             const ConstVectorRef& w) { self.unlearn(x, y, w); },
          py::arg("x").noconvert(), py::arg("y").noconvert(),
          py::arg("sample_weight").noconvert() = VectorXf(), Release(),
          "Removes rows learned earlier (with forgetting: pass the weight they have now).")
      .def(
          "add_classes", [](OnlineElm& self, const ConstLabelRef& y) { self.add_classes(y); },
          py::arg("classes").noconvert(), Release(), "Declares classes before their first sample.")
      .def(
          "resolve", [](OnlineElm& self) { self.resolve(); }, Release(),
          "Recomputes the state exactly from the double statistics (keep_statistics).")
      .def("decision_function", &OnlineElm::decision_function, py::arg("x").noconvert(), Release(),
           "Raw outputs H beta, float32 (n_samples, n_classes).")
      .def("predict", &OnlineElm::predict, py::arg("x").noconvert(), Release(),
           "Class labels, int64 (n_samples,).")
      .def("score", &OnlineElm::score, py::arg("x").noconvert(), py::arg("y").noconvert(),
           Release(), "Accuracy on int64 labels.")
      .def("to_elm_model", &OnlineElm::to_elm_model, Release(),
           "A batch ElmModel with the current beta (no training statistics).")
      .def_property_readonly("task", &OnlineElm::task)
      .def_property_readonly("classes", &OnlineElm::classes, "Class labels (int64 copy).")
      .def_property_readonly("n_features", &OnlineElm::n_features)
      .def_property_readonly("n_hidden", &OnlineElm::n_hidden)
      .def_property_readonly("n_outputs", &OnlineElm::n_outputs)
      .def_property_readonly("lambda_", &OnlineElm::lambda)
      .def_property_readonly("beta", &OnlineElm::beta_f32, "Output weights, float32 copy (L, C).")
      .def_property_readonly("samples_learned", &OnlineElm::samples_learned)
      .def_property_readonly("samples_unlearned", &OnlineElm::samples_unlearned)
      .def_property_readonly("resolves", &OnlineElm::resolves)
      .def_property_readonly("state_bytes", &OnlineElm::state_bytes)
      .def_property(
          "row_threads", &OnlineElm::row_threads,
          [](OnlineElm& self, int threads) { self.set_row_threads(threads); },
          "Threads for a one-row update (learn on a single row): 1 = the calling thread;\n"
          "n != 1 (0 = all cores) runs the hidden layer's product beside the spread rank-64\n"
          "updates on two threads for layers of 2**16 weights and more. The same bits for\n"
          "any value; a runtime setting, not saved. ValueError if negative.")
      .def_property_readonly("proba_temperature",
                             [](const OnlineElm& self) { return self.elm_config().proba_temperature; })
      .def_property_readonly("config", &OnlineElm::elm_config, "A copy of the ElmConfig.")
      .def_property_readonly("forgetting",
                             [](const OnlineElm& self) { return self.online_config().forgetting; })
      .def_property_readonly("precision",
                             [](const OnlineElm& self) {
                               return std::string(
                                   state_precision_name(self.online_config().precision));
                             })
      .def_property_readonly("keep_statistics", [](const OnlineElm& self) {
        return self.online_config().keep_statistics;
      });
  // The whole state, so that from_bytes -> learn equals never stopping.
  bind_files(cls, "online-elm");
}

}  // namespace elmq::python
