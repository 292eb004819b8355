#include "common/ids.hpp"

#include <gtest/gtest.h>

TEST(Ids, NewAlertIdsHaveTheShapeTheHistoryCursorAccepts) {
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(vigil::is_alert_id(vigil::new_alert_id()));
    EXPECT_TRUE(vigil::is_alert_id("01a216da-795e-7270-b59a-30fbe5456e0f"));
    EXPECT_FALSE(vigil::is_alert_id("xyz"));
    EXPECT_FALSE(vigil::is_alert_id(""));
    EXPECT_FALSE(vigil::is_alert_id("01A216DA-795E-7270-B59A-30FBE5456E0F"));
    EXPECT_FALSE(vigil::is_alert_id("01a216da0795e07270-b59a-30fbe5456e0f"));
    EXPECT_FALSE(vigil::is_alert_id("01a216da-795e-7270-b59a-30fbe5456e0f0"));
    EXPECT_FALSE(vigil::is_alert_id("01a216da-795e-7270-b59a-30fbe5456e0g"));
}
