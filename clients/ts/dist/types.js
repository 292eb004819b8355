/** Error with a stable machine-readable `code` (see README for the list). */
export class AlertClientError extends Error {
    constructor(code, message, extra = {}) {
        super(message);
        this.name = 'AlertClientError';
        this.code = code;
        if (extra.closeCode !== undefined)
            this.closeCode = extra.closeCode;
        if (extra.httpStatus !== undefined)
            this.httpStatus = extra.httpStatus;
    }
}
//# sourceMappingURL=types.js.map