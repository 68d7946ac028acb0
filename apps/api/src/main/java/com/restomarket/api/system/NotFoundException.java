package com.restomarket.api.system;

/** A requested resource does not exist; answered as 404 problem details. */
public class NotFoundException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public NotFoundException(String message) {
    super(message);
  }
}
