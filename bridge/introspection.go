package bridge

import (
	"io"
	"net/http"

	"google.golang.org/grpc/codes"
)

// proceduresPath is where the handler serves the list of procedures over
// plain HTTP: the same JSON as the WAMP procedure
// wamp.reflection.procedure.list.
const proceduresPath = "/procedures"

// serveProcedures answers GET /procedures with the procedure list, or 503
// with the errorDetails object of UNAVAILABLE while the upstream is not
// ready. With bearer tokens configured it asks for one, as a handshake
// does: the list is what a session could learn.
func (h *Handler) serveProcedures(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method "+r.Method+" not allowed on "+proceduresPath+": use GET", http.StatusMethodNotAllowed)
		return
	}
	if _, ok := h.authorize(w, r, "GET "+proceduresPath); !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	body, err := h.core.ProcedureList()
	if err != nil {
		f := h.core.Failure(err)
		code := http.StatusInternalServerError
		if f.Code == codes.Unavailable {
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
		body = f.Details
	}
	// body is shared (see invoke.Core.ProcedureList): written as it is,
	// not copied to append the newline.
	_, _ = w.Write(body)
	_, _ = io.WriteString(w, "\n")
}
