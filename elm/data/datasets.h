// Named benchmark datasets, found on this machine and split into train/test.
//
//   name           rows (train / test)    features  classes  file(s)
//   fashion-mnist  60000 / 10000 (fixed)  784       10       4 IDX files, see below
//   iris           150 (split here)       4         3        iris.csv
//   wine           178 (split here)       13        3        wine_data.csv
//   breast_cancer  569 (split here)       30        2        breast_cancer.csv
//   digits         1797 (split here)      64        10       digits.csv.gz
//
// Fashion-MNIST's files are {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
//
// Fashion-MNIST pixels are 0..255 (unscaled); the set comes with its own split.
// The four small sets are the CSV files scikit-learn ships in
// sklearn/datasets/data; they are split here, stratified by class, by a seeded
// shuffle with elmq::Rng, so (seed, test_fraction) gives the same split on
// every platform.
//
// Where files are looked for (first directory holding the file wins):
//   fashion-mnist: options.data_dir if set (only there), else
//                  $ELMQ_FASHION_MNIST_DIR, /usr/share/datasets/fashion-mnist
//                  (Debian package dataset-fashion-mnist).
//   sklearn sets:  options.data_dir if set (only there), else $ELMQ_SKLEARN_DATA,
//                  then sklearn/datasets/data under: $VIRTUAL_ENV, the .venv of
//                  the elmq source tree this library was built from, a .venv in
//                  the current directory or any parent, /usr/local/lib/python3*,
//                  /usr/lib/python3*, ~/.local/lib/python3* (site-packages and
//                  dist-packages).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elm/common/matrix.h"

namespace elmq {

struct DatasetSplit {
  std::string name;
  RowMatrixXf x_train, x_test;  ///< n_train x d, n_test x d (n_test may be 0)
  LabelVector y_train, y_test;
  /// Class names indexed by label (labels are 0..K-1 for every registered set).
  std::vector<std::string> class_names;
  /// The file(s) read, separated by "; ".
  std::string source;
};

struct DatasetOptions {
  /// The directory holding the dataset's files; empty: search the usual places.
  std::string data_dir;
  /// Fraction of each class held out for testing, in [0, 0.9]; 0: no test rows.
  /// Ignored by fashion-mnist, whose split is fixed.
  double test_fraction = 0.25;
  /// Seed of the split shuffle (ignored by fashion-mnist).
  std::uint64_t seed = 0;
  /// Keep only the first N training / test rows (-1: all; else >= 1).
  /// For the split sets these are the first rows of the shuffled split (so a
  /// random subset, not stratified); for fashion-mnist the files' first rows.
  std::int64_t max_train_rows = -1;
  std::int64_t max_test_rows = -1;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

/// The registered names, in the order of the table above.
std::vector<std::string> dataset_names();

/// Loads a dataset by name.
/// @throws InvalidArgument for an unknown name (listing the known ones) or bad options.
/// @throws IoError if the files cannot be found or read; the message lists the
///         places searched and how to install the data.
/// @throws FormatError if a file is corrupt or has an unexpected shape.
DatasetSplit load_dataset(const std::string& name, const DatasetOptions& options = {});

struct SplitIndices {
  std::vector<Index> train, test;  ///< row indices into the full data
};

/// Stratified split of row indices 0..n-1 (labels y): classes are visited in
/// ascending label order, each class's rows are shuffled (Fisher-Yates with
/// one Rng(seed)) and round(count * test_fraction) of them go to test, keeping
/// at least one row of every class in train; then the train and the test list
/// are each shuffled. Deterministic for a given (y, test_fraction, seed).
/// @throws InvalidArgument if test_fraction is outside [0, 1).
SplitIndices stratified_split(const ConstLabelRef& y, double test_fraction, std::uint64_t seed);

/// The sklearn data directory that would be used (first candidate holding
/// iris.csv), or an empty string if none is found. `data_dir` as in DatasetOptions.
std::string find_sklearn_data_dir(const std::string& data_dir = "");

}  // namespace elmq
