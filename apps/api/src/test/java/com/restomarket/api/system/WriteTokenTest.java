package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Locale;
import org.junit.jupiter.api.Test;

/** Reading the write token out of an Authorization header, without a server. */
class WriteTokenTest {

  private static final String TOKEN = "a-write-token-of-some-length";
  private final WriteToken writeToken = new WriteToken(TOKEN);

  @Test
  void findsTheTokenAsABearerTokenWhateverTheCaseOfTheScheme() {
    assertThat(writeToken.isPresentedIn("Bearer " + TOKEN)).isTrue();
    assertThat(writeToken.isPresentedIn("bearer " + TOKEN)).isTrue();
    assertThat(writeToken.check("BEARER  " + TOKEN + " ")).isEqualTo(WriteToken.Presented.VALID);
  }

  @Test
  void tellsNoTokenFromAWrongOne() {
    for (String none : new String[] {null, "", "Bearer ", "Bearer    ", "Basic " + TOKEN, TOKEN}) {
      assertThat(writeToken.check(none)).as("%s", none).isEqualTo(WriteToken.Presented.NONE);
      assertThat(writeToken.isPresentedIn(none)).isFalse();
    }
    for (String wrong :
        new String[] {TOKEN + "x", TOKEN.substring(1), TOKEN.toUpperCase(Locale.ROOT), "x"}) {
      assertThat(writeToken.check("Bearer " + wrong))
          .as(wrong)
          .isEqualTo(WriteToken.Presented.WRONG);
      assertThat(writeToken.isPresentedIn("Bearer " + wrong)).isFalse();
    }
  }

  @Test
  void neverShowsTheTokenInItsText() {
    assertThat(writeToken.toString()).doesNotContain(TOKEN);
  }
}
