// TensorBoard event files, checked by an independent reader written here: its own CRC32C (bit by bit,
// against the standard check value), its own TFRecord and protobuf decoding.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>

#include "bench/harness/trainer.h"
#include "cli_runner.h"
#include "core/error.h"
#include "bench/harness/tensorboard.h"

namespace cnnb {
namespace {

using test::TempDir;

uint32_t ref_crc32c(const std::string& s) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}
uint32_t ref_mask(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xa282ead8u; }

TEST(TensorBoardReader, OwnCrc32cMatchesTheStandardCheckValue) { EXPECT_EQ(ref_crc32c("123456789"), 0xE3069283u); }

struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  std::vector<std::pair<std::string, float>> values;
};

// Minimal protobuf reader: the fields of Event, Summary and Summary.Value.
struct Pb {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (i >= s.size() || shift > 63) throw std::runtime_error("bad varint");
      const uint8_t b = uint8_t(s[i++]);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  std::string_view bytes(size_t n) {
    if (i + n > s.size()) throw std::runtime_error("field runs past its message");
    const auto r = s.substr(i, n);
    i += n;
    return r;
  }
};

Event parse_event(std::string_view data) {
  Event e;
  Pb p{data};
  while (!p.done()) {
    const uint64_t key = p.varint();
    const int field = int(key >> 3), wire = int(key & 7);
    if (field == 1 && wire == 1) {
      std::memcpy(&e.wall_time, p.bytes(8).data(), 8);
    } else if (field == 2 && wire == 0) {
      e.step = int64_t(p.varint());
    } else if (field == 3 && wire == 2) {
      e.file_version = std::string(p.bytes(p.varint()));
    } else if (field == 5 && wire == 2) {
      Pb sum{p.bytes(p.varint())};
      while (!sum.done()) {
        if (sum.varint() != (1 << 3 | 2)) throw std::runtime_error("Summary: expected field 1 (value)");
        Pb v{sum.bytes(sum.varint())};
        std::string tag;
        float value = std::nanf("");
        while (!v.done()) {
          const uint64_t k = v.varint();
          if (k == (1 << 3 | 2)) tag = std::string(v.bytes(v.varint()));
          else if (k == (2 << 3 | 5)) std::memcpy(&value, v.bytes(4).data(), 4);
          else throw std::runtime_error("Summary.Value: unexpected field");
        }
        e.values.emplace_back(tag, value);
      }
    } else {
      throw std::runtime_error("Event: unexpected field " + std::to_string(field));
    }
  }
  return e;
}

// Reads every record, checking the framing and both CRCs; fails the test on any mismatch.
std::vector<Event> read_events(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<Event> out;
  size_t i = 0;
  while (i < all.size()) {
    EXPECT_GE(all.size() - i, 12u) << "truncated record header at byte " << i;
    if (all.size() - i < 12) break;
    uint64_t len;
    uint32_t len_crc, data_crc;
    std::memcpy(&len, all.data() + i, 8);
    std::memcpy(&len_crc, all.data() + i + 8, 4);
    EXPECT_EQ(len_crc, ref_mask(ref_crc32c(all.substr(i, 8)))) << "length CRC of record " << out.size();
    EXPECT_LE(i + 12 + len + 4, all.size()) << "truncated record " << out.size();
    if (i + 12 + len + 4 > all.size()) break;
    const std::string data = all.substr(i + 12, len);
    std::memcpy(&data_crc, all.data() + i + 12 + len, 4);
    EXPECT_EQ(data_crc, ref_mask(ref_crc32c(data))) << "data CRC of record " << out.size();
    out.push_back(parse_event(data));
    i += 12 + len + 4;
  }
  return out;
}

TEST(TensorBoard, EncodesAScalarEventByHand) {
  // Event{wall_time=2.0, step=300, summary{value{tag="a", simple_value=1.0}}}
  const std::string e = encode_scalar_event(2.0, 300, {{"a", 1.0f}});
  const unsigned char expect[] = {0x09, 0, 0, 0, 0, 0, 0, 0, 0x40,             // wall_time: double 2.0
                                  0x10, 0xac, 0x02,                           // step: varint 300
                                  0x2a, 0x0a,                                 // summary, 10 bytes
                                  0x0a, 0x08,                                 // value, 8 bytes
                                  0x0a, 0x01, 'a',                            // tag
                                  0x15, 0x00, 0x00, 0x80, 0x3f};              // simple_value 1.0f
  ASSERT_EQ(e.size(), sizeof expect);
  EXPECT_EQ(std::memcmp(e.data(), expect, sizeof expect), 0);
  const std::string framed = tfrecord_frame(e);
  ASSERT_EQ(framed.size(), 8 + 4 + e.size() + 4);
  EXPECT_EQ(uint8_t(framed[0]), sizeof expect);
}

TEST(TensorBoard, TrainingWritesCurvesTheReaderAccepts) {
  TempDir dir;
  TrainConfig c;
  c.model = "conv3x3x4,relu,maxpool2,fc4";
  c.dataset = "synthetic:n=128,shape=1x10x10,classes=4,test=32";
  c.batch = 16;
  c.epochs = 2;
  c.steps_per_epoch = 4;
  c.optimizer.lr = 0.002;
  c.tensorboard_dir = (dir / "tb").string();
  const Dataset data = load_dataset(c.dataset, c.seed);
  const TrainResult r = train(c, data, nullptr);
  ASSERT_FALSE(r.tensorboard_file.empty());
  const std::filesystem::path f = r.tensorboard_file;
  EXPECT_EQ(f.parent_path(), dir / "tb" / default_run_name(c));
  EXPECT_TRUE(f.filename().string().starts_with("events.out.tfevents."));
  const std::vector<Event> ev = read_events(f);
  ASSERT_EQ(ev.size(), 1u + 8u + 2u);  // version, one per step, one per epoch
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_GT(ev[0].wall_time, 1.6e9);
  for (int s = 1; s <= 4; ++s) {
    EXPECT_EQ(ev[size_t(s)].step, s);
    ASSERT_EQ(ev[size_t(s)].values.size(), 1u);
    EXPECT_EQ(ev[size_t(s)].values[0].first, "train/step_loss");
  }
  for (int e = 0; e < 2; ++e) {
    const Event& x = ev[e == 0 ? 5 : 10];
    EXPECT_EQ(x.step, 4 * (e + 1));
    std::map<std::string, float> v(x.values.begin(), x.values.end());
    const EpochStats& es = r.epochs[size_t(e)];
    EXPECT_EQ(v.at("train/loss"), float(es.train_loss));
    EXPECT_EQ(v.at("train/accuracy"), float(es.train_accuracy));
    EXPECT_EQ(v.at("test/loss"), float(es.test_loss));
    EXPECT_EQ(v.at("test/accuracy"), float(es.test_accuracy));
    EXPECT_EQ(v.at("learning_rate"), 0.002f);
    EXPECT_EQ(v.at("images_per_second"), float(es.images_per_second));
    for (const char* phase : {"data", "h2d", "forward", "backward", "exchange", "update", "step"})
      EXPECT_GE(v.at(std::string("time_ms/") + phase), 0.0f) << phase;
    EXPECT_GT(v.at("time_ms/forward"), 0.0f);
  }
}

TEST(TensorBoard, UnwritableDirectoryIsRefused) {
  TempDir dir;
  { std::ofstream(dir / "file") << "x"; }
  try {
    check_tensorboard_dir(dir / "file" / "tb");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--tensorboard " + (dir / "file" / "tb").string()), std::string::npos) << e.what();
  }
  const auto r = test::run_cli(fmt::format("train --dataset synthetic:n=64,shape=1x8x8,classes=2 --model conv3x3x2,fc2 "
                                           "--tensorboard {}", (dir / "file" / "tb").string()));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("--tensorboard"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace cnnb
