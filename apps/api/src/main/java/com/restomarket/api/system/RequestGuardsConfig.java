package com.restomarket.api.system;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.servlet.HandlerExceptionResolver;
import org.springframework.web.servlet.config.annotation.InterceptorRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * What a request must pass before a handler sees it: the body limit, right after the filters that
 * stamp every response ({@link WebConfig}), and the write token on every change. Only when serving
 * HTTP ({@code migrate} does not).
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
class RequestGuardsConfig implements WebMvcConfigurer {

  private final WriteToken writeToken;

  RequestGuardsConfig(WriteToken writeToken) {
    this.writeToken = writeToken;
  }

  @Bean
  FilterRegistrationBean<RequestBodyLimitFilter> requestBodyLimitFilter(
      @Qualifier("handlerExceptionResolver") HandlerExceptionResolver errors) {
    FilterRegistrationBean<RequestBodyLimitFilter> registration =
        new FilterRegistrationBean<>(new RequestBodyLimitFilter(errors));
    registration.setOrder(WebConfig.AFTER_RESPONSE_FILTERS);
    return registration;
  }

  @Override
  public void addInterceptors(InterceptorRegistry registry) {
    registry
        .addInterceptor(new WriteTokenInterceptor(writeToken))
        .addPathPatterns(WriteTokenInterceptor.PROTECTED_PATHS);
  }
}
