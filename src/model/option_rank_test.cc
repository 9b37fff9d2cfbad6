// Source ranking: an offer replaces a value only when its source ranks above
// the one the value came from, and an unknown is never offered.
#include "model/option_rank.h"

#include <gtest/gtest.h>

namespace portrel {
namespace {

TEST(OptionRank, OfferRanksSources) {
  Tristate v = Tristate::unknown;
  OptSource from = OptSource::none;
  EXPECT_FALSE(offer_option(v, from, Tristate::unknown, OptSource::bpf));
  EXPECT_TRUE(offer_option(v, from, Tristate::yes, OptSource::inferred));
  EXPECT_TRUE(offer_option(v, from, Tristate::no, OptSource::probe));
  EXPECT_FALSE(offer_option(v, from, Tristate::yes, OptSource::diag));
  EXPECT_FALSE(offer_option(v, from, Tristate::yes, OptSource::probe));
  EXPECT_EQ(v, Tristate::no);
  EXPECT_EQ(from, OptSource::probe);
  EXPECT_TRUE(offer_option(v, from, Tristate::yes, OptSource::bpf));
  EXPECT_EQ(from, OptSource::bpf);
}

}  // namespace
}  // namespace portrel
