package com.restomarket.api.system;

import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;

/**
 * What every part of the service shares: the release, the write token, and the filters that run
 * before everything else, so every response (errors too) carries their headers. Also in {@code
 * migrate}, which builds the same beans without serving them.
 */
@Configuration(proxyBeanMethods = false)
class WebConfig {

  /** The order of the first filter that may refuse a request, after the ones here. */
  static final int AFTER_RESPONSE_FILTERS = Ordered.HIGHEST_PRECEDENCE + 2;

  @Bean
  VersionInfo versionInfo() {
    return VersionInfo.load();
  }

  @Bean
  WriteToken writeToken(AppProperties properties) {
    return new WriteToken(properties.api().writeToken());
  }

  @Bean
  FilterRegistrationBean<ResponseIdentityFilter> responseIdentityFilter(VersionInfo versionInfo) {
    FilterRegistrationBean<ResponseIdentityFilter> registration =
        new FilterRegistrationBean<>(new ResponseIdentityFilter(versionInfo.version()));
    registration.setOrder(Ordered.HIGHEST_PRECEDENCE);
    return registration;
  }

  @Bean
  FilterRegistrationBean<SecurityHeadersFilter> securityHeadersFilter() {
    FilterRegistrationBean<SecurityHeadersFilter> registration =
        new FilterRegistrationBean<>(new SecurityHeadersFilter());
    registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 1);
    return registration;
  }
}
