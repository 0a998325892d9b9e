package kroll.lab.common;

/** An error answered as {@code {"error_code": code, "message": message}} with HTTP status. */
public class HttpError extends RuntimeException {
    public final int status;
    public final int errorCode;

    public HttpError(int status, int errorCode, String message) {
        super(message);
        this.status = status;
        this.errorCode = errorCode;
    }

    public HttpError(int status, String message) { this(status, status, message); }
}
