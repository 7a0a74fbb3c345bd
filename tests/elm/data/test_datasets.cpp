#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "elm/common/errors.h"
#include "elm/data/datasets.h"
#include "tests/elm/data/test_util.h"

namespace elmq {
namespace {

using testing_util::gzip;
using testing_util::make_idx;
using testing_util::TempDir;
using testing_util::write_bytes;

std::map<std::int64_t, Index> counts(const LabelVector& y) {
  std::map<std::int64_t, Index> c;
  for (Index i = 0; i < y.size(); ++i) ++c[y[i]];
  return c;
}

// ------------------------------------------------------------- stratified_split

TEST(StratifiedSplit, ProportionsPerClassAndPartition) {
  LabelVector y(100);
  for (Index i = 0; i < 100; ++i) y[i] = i < 60 ? 7 : (i < 90 ? -1 : 3);  // 60 / 30 / 10
  const SplitIndices s = stratified_split(y, 0.25, 11);
  EXPECT_EQ(s.train.size() + s.test.size(), 100u);
  std::vector<Index> all = s.train;
  all.insert(all.end(), s.test.begin(), s.test.end());
  std::sort(all.begin(), all.end());
  for (Index i = 0; i < 100; ++i) EXPECT_EQ(all[static_cast<std::size_t>(i)], i);
  std::map<std::int64_t, Index> test_counts;
  for (Index i : s.test) ++test_counts[y[i]];
  EXPECT_EQ(test_counts[7], 15);
  EXPECT_EQ(test_counts[-1], 8);  // round(7.5) = 8
  EXPECT_EQ(test_counts[3], 3);   // round(2.5) = 3
}

TEST(StratifiedSplit, DeterministicAndSeedDependent) {
  LabelVector y(50);
  for (Index i = 0; i < 50; ++i) y[i] = i % 3;
  const SplitIndices a = stratified_split(y, 0.3, 5);
  const SplitIndices b = stratified_split(y, 0.3, 5);
  const SplitIndices c = stratified_split(y, 0.3, 6);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.test, b.test);
  EXPECT_NE(a.test, c.test);
  // Known values: the split is defined by elmq::Rng, so it is the same on every platform.
  LabelVector small(8);
  small << 0, 0, 0, 0, 1, 1, 1, 1;
  const SplitIndices fixed = stratified_split(small, 0.5, 0);
  // Regression values: a change here changes every published split.
  EXPECT_EQ(fixed.train, (std::vector<Index>{0, 2, 7, 5}));
  EXPECT_EQ(fixed.test, (std::vector<Index>{1, 4, 3, 6}));
}

TEST(StratifiedSplit, EdgeCases) {
  LabelVector y(5);
  y << 1, 2, 2, 3, 3;
  // A singleton class stays in train; every class keeps a training row.
  const SplitIndices s = stratified_split(y, 0.9, 1);
  EXPECT_EQ(s.test.size(), 2u);
  EXPECT_EQ(s.train.size(), 3u);
  std::set<std::int64_t> train_classes;
  for (Index i : s.train) train_classes.insert(y[i]);
  EXPECT_EQ(train_classes, (std::set<std::int64_t>{1, 2, 3}));
  const SplitIndices none = stratified_split(y, 0.0, 1);
  EXPECT_TRUE(none.test.empty());
  EXPECT_EQ(none.train.size(), 5u);
  ELMQ_EXPECT_THROW_MSG(stratified_split(y, 1.0, 1), InvalidArgument, "test_fraction", "1");
  ELMQ_EXPECT_THROW_MSG(stratified_split(y, -0.1, 1), InvalidArgument, "test_fraction");
}

// ------------------------------------------------------------- registry

TEST(Datasets, NamesAndUnknownName) {
  const auto names = dataset_names();
  EXPECT_EQ(names,
            (std::vector<std::string>{"fashion-mnist", "iris", "wine", "breast_cancer", "digits"}));
  ELMQ_EXPECT_THROW_MSG(load_dataset("mnist"), InvalidArgument, "unknown dataset 'mnist'",
                        "fashion-mnist, iris, wine, breast_cancer, digits");
}

TEST(Datasets, OptionsValidate) {
  DatasetOptions o;
  EXPECT_NO_THROW(o.validate());
  o.test_fraction = 0.95;
  ELMQ_EXPECT_THROW_MSG(o.validate(), InvalidArgument, "test_fraction", "0.95");
  o = DatasetOptions{};
  o.max_train_rows = 0;
  ELMQ_EXPECT_THROW_MSG(o.validate(), InvalidArgument, "max_train_rows");
  o = DatasetOptions{};
  o.max_test_rows = -5;
  ELMQ_EXPECT_THROW_MSG(load_dataset("iris", o), InvalidArgument, "max_test_rows");
}

TEST(Datasets, MissingDataSaysHowToInstall) {
  TempDir dir;
  DatasetOptions o;
  o.data_dir = dir.path().string();
  ELMQ_EXPECT_THROW_MSG(load_dataset("iris", o), IoError, "iris.csv not found", dir.path().string(),
                        "pip install scikit-learn", "ELMQ_SKLEARN_DATA");
  ELMQ_EXPECT_THROW_MSG(load_dataset("fashion-mnist", o), IoError, "fashion-mnist not found",
                        "apt-get install dataset-fashion-mnist");
}

// A fake sklearn data directory exercises the CSV path on any machine.
TEST(Datasets, SklearnFormatFromDataDir) {
  TempDir dir;
  std::string text = "150,4,setosa,versicolor,virginica\n";
  for (int i = 0; i < 150; ++i) {
    text += std::to_string(i) + ",1.5,2,3," + std::to_string(i / 50) + "\n";
  }
  write_bytes(dir.file("iris.csv"), text);
  DatasetOptions o;
  o.data_dir = dir.path().string();
  o.seed = 3;
  const DatasetSplit s = load_dataset("iris", o);
  EXPECT_EQ(s.x_train.rows(), 111);  // 3 x (50 - round(12.5) = 13)
  EXPECT_EQ(s.x_test.rows(), 39);
  EXPECT_EQ(s.class_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  EXPECT_EQ(s.source, dir.file("iris.csv"));
  // Rows stay aligned with their labels (feature 0 encodes the row, label = row / 50).
  for (Index i = 0; i < s.x_train.rows(); ++i) {
    EXPECT_EQ(static_cast<std::int64_t>(s.x_train(i, 0)) / 50, s.y_train[i]);
  }
  for (Index i = 0; i < s.x_test.rows(); ++i) {
    EXPECT_EQ(static_cast<std::int64_t>(s.x_test(i, 0)) / 50, s.y_test[i]);
  }
  o.max_train_rows = 10;
  o.max_test_rows = 4;
  const DatasetSplit small = load_dataset("iris", o);
  EXPECT_EQ(small.x_train.rows(), 10);
  EXPECT_EQ(small.x_test.rows(), 4);
  EXPECT_EQ(small.x_train, s.x_train.topRows(10));

  // A file with the wrong shape is a FormatError, not a silently odd dataset.
  write_bytes(dir.file("iris.csv"), "150,4,a,b,c\n1,2,3,4,0\n");
  ELMQ_EXPECT_THROW_MSG(load_dataset("iris", o), FormatError, "1 rows", "expected 150");
}

TEST(Datasets, FashionMnistFormatFromDataDir) {
  TempDir dir;
  const int n_train = 6, n_test = 3;
  std::vector<std::uint8_t> img(static_cast<std::size_t>(n_train) * 784), lab(n_train);
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<std::uint8_t>(i % 251);
  for (int i = 0; i < n_train; ++i) lab[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  write_bytes(dir.file("train-images-idx3-ubyte.gz"), gzip(make_idx({6, 28, 28}, img)));
  write_bytes(dir.file("train-labels-idx1-ubyte.gz"), gzip(make_idx({6}, lab)));
  img.resize(static_cast<std::size_t>(n_test) * 784);
  lab.resize(n_test);
  write_bytes(dir.file("t10k-images-idx3-ubyte"), make_idx({3, 28, 28}, img));  // uncompressed
  write_bytes(dir.file("t10k-labels-idx1-ubyte.gz"), gzip(make_idx({3}, lab)));
  DatasetOptions o;
  o.data_dir = dir.path().string();
  o.max_test_rows = 2;
  const DatasetSplit s = load_dataset("fashion-mnist", o);
  EXPECT_EQ(s.x_train.rows(), 6);
  EXPECT_EQ(s.x_train.cols(), 784);
  EXPECT_EQ(s.x_test.rows(), 2);
  EXPECT_EQ(s.y_train[5], 5);
  EXPECT_EQ(s.x_train(1, 0), static_cast<float>(784 % 251));
  EXPECT_EQ(s.class_names.size(), 10u);

  // Labels that do not match the images are rejected.
  write_bytes(dir.file("t10k-labels-idx1-ubyte.gz"), gzip(make_idx({2}, {0, 1})));
  ELMQ_EXPECT_THROW_MSG(load_dataset("fashion-mnist", o), FormatError, "2 labels for 3 images");
  write_bytes(dir.file("t10k-labels-idx1-ubyte.gz"), gzip(make_idx({3}, {10, 0, 1})));
  ELMQ_EXPECT_THROW_MSG(load_dataset("fashion-mnist", o), FormatError, "label 10", "outside 0..9");
}

// Sets an environment variable for one scope and restores the old value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_, old_.c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

TEST(Datasets, EnvironmentVariablesComeFirst) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 1797; ++i) {
    for (int j = 0; j < 64; ++j) text += std::to_string((i + j) % 17) + ",";
    text += std::to_string(i % 10) + "\n";
  }
  write_bytes(dir.file("digits.csv.gz"), gzip(text));
  ScopedEnv env("ELMQ_SKLEARN_DATA", dir.path().string());
  const DatasetSplit s = load_dataset("digits");
  EXPECT_EQ(s.source, dir.file("digits.csv.gz"));
  EXPECT_EQ(s.x_train.rows() + s.x_test.rows(), 1797);
  EXPECT_EQ(s.class_names.front(), "0");

  ScopedEnv fm("ELMQ_FASHION_MNIST_DIR", dir.path().string());
  write_bytes(dir.file("train-images-idx3-ubyte"),
              make_idx({1, 28, 28}, std::vector<std::uint8_t>(784)));
  write_bytes(dir.file("train-labels-idx1-ubyte"), make_idx({1}, {4}));
  write_bytes(dir.file("t10k-images-idx3-ubyte"),
              make_idx({1, 28, 28}, std::vector<std::uint8_t>(784)));
  write_bytes(dir.file("t10k-labels-idx1-ubyte"), make_idx({1}, {2}));
  const DatasetSplit f = load_dataset("fashion-mnist");
  EXPECT_EQ(f.x_train.rows(), 1);
  EXPECT_EQ(f.y_test[0], 2);
  EXPECT_NE(f.source.find(dir.path().string()), std::string::npos);
}

// ------------------------------------------------------------- the real data

struct KnownSet {
  const char* name;
  Index rows, features, classes;
};

class SklearnSets : public ::testing::TestWithParam<KnownSet> {};

TEST_P(SklearnSets, KnownShapesStratifiedDeterministic) {
  const KnownSet k = GetParam();
  if (find_sklearn_data_dir().empty()) {
    GTEST_SKIP() << "scikit-learn's data files not found: pip install scikit-learn into "
                    ".venv or set ELMQ_SKLEARN_DATA";
  }
  DatasetOptions o;
  o.seed = 1234;
  const DatasetSplit s = load_dataset(k.name, o);
  EXPECT_EQ(s.x_train.rows() + s.x_test.rows(), k.rows);
  EXPECT_EQ(s.x_train.cols(), k.features);
  EXPECT_EQ(s.x_test.cols(), k.features);
  EXPECT_EQ(static_cast<Index>(s.class_names.size()), k.classes);
  EXPECT_TRUE(s.x_train.allFinite());

  const auto all = counts(s.y_train);
  const auto test = counts(s.y_test);
  ASSERT_EQ(static_cast<Index>(all.size()), k.classes);
  for (const auto& [label, n_train] : all) {
    const Index n_test = test.count(label) ? test.at(label) : 0;
    const Index total = n_train + n_test;
    EXPECT_EQ(n_test, std::llround(total * 0.25)) << k.name << " class " << label;
  }
  const DatasetSplit again = load_dataset(k.name, o);
  EXPECT_EQ(again.x_train, s.x_train);
  EXPECT_EQ(again.y_test, s.y_test);
  o.seed = 1235;
  EXPECT_NE(load_dataset(k.name, o).y_train, s.y_train);
}

INSTANTIATE_TEST_SUITE_P(
    Registry, SklearnSets,
    ::testing::Values(KnownSet{"iris", 150, 4, 3}, KnownSet{"wine", 178, 13, 3},
                      KnownSet{"breast_cancer", 569, 30, 2}, KnownSet{"digits", 1797, 64, 10}),
    [](const ::testing::TestParamInfo<KnownSet>& info) { return std::string(info.param.name); });

TEST(SklearnIris, KnownValues) {
  if (find_sklearn_data_dir().empty()) GTEST_SKIP() << "scikit-learn's data files not found";
  DatasetOptions o;
  o.test_fraction = 0.0;
  const DatasetSplit s = load_dataset("iris", o);
  ASSERT_EQ(s.x_train.rows(), 150);
  EXPECT_TRUE(s.x_test.rows() == 0);
  EXPECT_EQ(counts(s.y_train), (std::map<std::int64_t, Index>{{0, 50}, {1, 50}, {2, 50}}));
  // The column sums of iris are well known (876.5, 458.6, 563.7, 179.9).
  const Eigen::RowVectorXd sums = s.x_train.cast<double>().colwise().sum();
  EXPECT_NEAR(sums[0], 876.5, 1e-3);
  EXPECT_NEAR(sums[1], 458.6, 1e-3);
  EXPECT_NEAR(sums[2], 563.7, 1e-3);
  EXPECT_NEAR(sums[3], 179.9, 1e-3);
}

TEST(FashionMnist, KnownShapes) {
  DatasetSplit s;
  try {
    s = load_dataset("fashion-mnist");
  } catch (const IoError& e) {
    GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): "
                 << e.what();
  }
  EXPECT_EQ(s.x_train.rows(), 60000);
  EXPECT_EQ(s.x_train.cols(), 784);
  EXPECT_EQ(s.x_test.rows(), 10000);
  EXPECT_EQ(s.x_test.cols(), 784);
  // Both splits are balanced: 6000 and 1000 per class.
  for (const auto& [label, n] : counts(s.y_train)) EXPECT_EQ(n, 6000) << label;
  for (const auto& [label, n] : counts(s.y_test)) EXPECT_EQ(n, 1000) << label;
  EXPECT_EQ(s.x_train.minCoeff(), 0.0f);
  EXPECT_EQ(s.x_train.maxCoeff(), 255.0f);
}

}  // namespace
}  // namespace elmq
