// Bindings of elm/data/datasets.h: the named benchmark datasets.
#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "elm/data/datasets.h"
#include "python/src/bindings.h"

namespace py = pybind11;

namespace elmq::python {

void bind_data(py::module_& m) {
  py::class_<DatasetOptions>(m, "DatasetOptions", "Where and how a named dataset is loaded.")
      .def(py::init<>())
      .def_readwrite("data_dir", &DatasetOptions::data_dir,
                     "Directory holding the files; empty: search the usual places.")
      .def_readwrite("test_fraction", &DatasetOptions::test_fraction,
                     "Fraction of each class held out, in [0, 0.9] (ignored by fashion-mnist).")
      .def_readwrite("seed", &DatasetOptions::seed, "Seed of the split shuffle.")
      .def_readwrite("max_train_rows", &DatasetOptions::max_train_rows, "-1: all, else >= 1.")
      .def_readwrite("max_test_rows", &DatasetOptions::max_test_rows, "-1: all, else >= 1.")
      .def("validate", &DatasetOptions::validate, "Raises ValueError naming a bad field.");

  // The arrays are views into the C++ object (no copy); they keep it alive.
  auto view = py::return_value_policy::reference_internal;
  py::class_<DatasetSplit>(m, "DatasetSplit", R"doc(
A loaded dataset. x_train/x_test are float32 (n, d), y_train/y_test int64 (n,);
they are writable numpy views of the C++ buffers (no copy).)doc")
      .def_readonly("name", &DatasetSplit::name)
      .def_property_readonly(
          "x_train", [](DatasetSplit& s) -> RowMatrixXf& { return s.x_train; }, view)
      .def_property_readonly(
          "x_test", [](DatasetSplit& s) -> RowMatrixXf& { return s.x_test; }, view)
      .def_property_readonly(
          "y_train", [](DatasetSplit& s) -> LabelVector& { return s.y_train; }, view)
      .def_property_readonly(
          "y_test", [](DatasetSplit& s) -> LabelVector& { return s.y_test; }, view)
      .def_readonly("class_names", &DatasetSplit::class_names, "Class names indexed by label.")
      .def_readonly("source", &DatasetSplit::source, "The file(s) read, separated by '; '.")
      .def("__repr__", [](const DatasetSplit& s) {
        return "<DatasetSplit '" + s.name + "': " + std::to_string(s.x_train.rows()) + " train / " +
               std::to_string(s.x_test.rows()) + " test rows, " + std::to_string(s.x_train.cols()) +
               " features>";
      });

  m.def("dataset_names", &dataset_names, "The registered dataset names.");
  m.def("load_dataset", &load_dataset, py::arg("name"), py::arg("options") = DatasetOptions(),
        py::call_guard<py::gil_scoped_release>(), R"doc(
Loads a named dataset ('fashion-mnist', 'iris', 'wine', 'breast_cancer', 'digits').

Raises ValueError for an unknown name or bad options, OSError if the files
cannot be found (the message lists where it looked), FormatError if corrupt.)doc");
  m.def("find_sklearn_data_dir", &find_sklearn_data_dir, py::arg("data_dir") = "",
        "The scikit-learn data directory load_dataset would use ('' if none).");
}

}  // namespace elmq::python
