// Test and measurement hooks of elmq._core (underscore names, not public API):
// they let the Python tests prove that arrays reach C++ without a copy and
// time the C++ prediction call without any Python in the loop.
#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstdint>

#include "elm/common/errors.h"
#include "elm/common/matrix.h"
#include "elm/elm_model.h"
#include "python/src/bindings.h"

namespace py = pybind11;

namespace elmq::python {

namespace {

// Nanoseconds per call of fn(), over `repeats` calls after one warm-up call.
template <typename Fn>
double time_per_call_ns(std::int64_t repeats, Fn&& fn) {
  fn();
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < repeats; ++i) fn();
  const auto stop = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(stop - start).count() /
         static_cast<double>(repeats);
}

}  // namespace

void bind_debug(py::module_& m) {
  m.def(
      "_data_pointer",
      [](const ConstMatrixRef& x) { return reinterpret_cast<std::uintptr_t>(x.data()); },
      py::arg("x").noconvert(),
      "Address of the first element C++ sees for a float32 matrix argument (zero-copy test).");
  m.def(
      "_label_pointer",
      [](const ConstLabelRef& y) { return reinterpret_cast<std::uintptr_t>(y.data()); },
      py::arg("y").noconvert(), "Address of the first element C++ sees for an int64 label vector.");
  m.def(
      "_time_predict_ns",
      [](const ElmModel& model, const ConstMatrixRef& x, std::int64_t repeats) {
        ELMQ_CHECK_ARG(repeats >= 1, "_time_predict_ns: repeats must be >= 1, got ", repeats);
        return time_per_call_ns(repeats, [&] {
          const LabelVector labels = model.predict(x);
          if (labels.size() != x.rows()) throw std::logic_error("predict returned a wrong size");
        });
      },
      py::arg("model"), py::arg("x").noconvert(), py::arg("repeats"),
      py::call_guard<py::gil_scoped_release>(),
      "Nanoseconds per ElmModel::predict(x) call, timed in a C++ loop.");
  m.def(
      "_time_predict_row_ns",
      [](const ElmModel& model, const ConstMatrixRef& x, std::int64_t repeats) {
        ELMQ_CHECK_ARG(repeats >= 1, "_time_predict_row_ns: repeats must be >= 1, got ", repeats);
        ELMQ_CHECK_ARG(model.fitted() && x.rows() == 1 && x.cols() == model.n_features(),
                       "_time_predict_row_ns: x must be 1 x n_features of a fitted model");
        check_finite(x, "_time_predict_row_ns", "x");
        PredictWorkspace ws;
        VectorXf scores(model.n_outputs());
        return time_per_call_ns(repeats, [&] { model.predict_row(x.data(), ws, scores.data()); });
      },
      py::arg("model"), py::arg("x").noconvert(), py::arg("repeats"),
      py::call_guard<py::gil_scoped_release>(),
      "Nanoseconds per ElmModel::predict_row call (the allocation-free path), timed in C++.");
}

}  // namespace elmq::python
