package fileservice

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
	"github.com/huleedu/huleedu/sqldb"
)

// Form field names of an upload.
const (
	fieldBatchID = "batch_id"
	fieldFiles   = "files"
	fieldFile    = "file" // accepted as a synonym of files
)

// maxBatchIDLen bounds the batch_id form field.
const maxBatchIDLen = 128

// Upload statuses of FileResult.
const (
	StatusProvisioned = "provisioned"
	StatusRejected    = "rejected"
)

// UploadResponse is the 202 body of POST /v1/files/batch.
type UploadResponse struct {
	BatchID          string       `json:"batch_id"`
	CorrelationID    string       `json:"correlation_id"`
	Files            []FileResult `json:"files"`
	ProvisionedCount int          `json:"provisioned_count"`
	RejectedCount    int          `json:"rejected_count"`
}

// FileResult is what became of one uploaded file.
type FileResult struct {
	FileName            string `json:"file_name"`
	FileUploadID        string `json:"file_upload_id"`
	Status              string `json:"status"` // StatusProvisioned or StatusRejected
	ContentID           string `json:"content_id,omitempty"`
	Size                int64  `json:"size"`
	ValidationErrorCode string `json:"validation_error_code,omitempty"`
	Reason              string `json:"reason,omitempty"`
}

// uploadedFile is one file part, read up to the size limit.
type uploadedFile struct {
	name   string
	data   []byte // at most MaxFileBytes+1 bytes
	size   int64  // the full size
	sha256 string // of the full content
}

// handleUpload serves POST /v1/files/batch.
//
// The form is read as a stream: each file is hashed in full but kept in
// memory only up to MaxFileBytes+1 bytes, so an oversized file costs no
// more memory than a valid one. Events are published only after the whole
// form was read (batch_id may come after the files). Every file's content
// and events go into one transaction (ContentStore.Transact): with the
// service's database the upload commits whole or not at all. If the bus
// does not accept an event, or the database is unavailable, the answer is
// 503: the client repeats the upload, which publishes the same event ids
// again, and consumers drop any duplicates.
func (s *Service) handleUpload(w http.ResponseWriter, r *http.Request) {
	correlationID := httpjson.CorrelationID(w, r)
	batchID, files, err := s.readUpload(w, r)
	if err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	resp := UploadResponse{BatchID: batchID, CorrelationID: correlationID, Files: make([]FileResult, 0, len(files))}
	var failed string // the file whose storing or events failed
	err = s.store.Transact(r.Context(), func(ctx context.Context) error {
		for _, f := range files {
			res, err := s.processFile(ctx, batchID, correlationID, f)
			if err != nil {
				failed = f.name
				return err
			}
			if res.Status == StatusProvisioned {
				resp.ProvisionedCount++
			} else {
				resp.RejectedCount++
			}
			resp.Files = append(resp.Files, res)
		}
		return nil
	})
	switch {
	case sqldb.IsRetriable(err):
		s.log.ErrorContext(r.Context(), "upload not stored: the database is unavailable", "batch_id", batchID, "error", err)
		httpjson.WriteUnavailable(w, err)
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "upload not accepted", "batch_id", batchID, "file_name", failed, "error", err)
		w.Header().Set("Retry-After", "1")
		httpjson.WriteError(w, http.StatusServiceUnavailable, httpjson.CodePublishFailed,
			fmt.Sprintf("file %q was not accepted (%v); repeat the whole upload: files already accepted are recognised and not processed twice", failed, err), "")
		return
	}
	s.log.InfoContext(r.Context(), "batch upload accepted", "batch_id", batchID,
		"provisioned", resp.ProvisionedCount, "rejected", resp.RejectedCount)
	httpjson.Write(w, http.StatusAccepted, resp)
}

// processFile stores a valid file and publishes its events:
// BatchFileAddedV1, then EssayContentProvisionedV1 or
// EssayValidationFailedV1, in the upload's transaction (ctx).
func (s *Service) processFile(ctx context.Context, batchID, correlationID string, f uploadedFile) (FileResult, error) {
	uploadID := FileUploadID(batchID, f.name, f.sha256)
	res := FileResult{FileName: f.name, FileUploadID: uploadID, Size: f.size}
	rej := validateContent(f.data, f.size, s.cfg.MaxFileBytes)
	if rej == nil {
		res.Status = StatusProvisioned
		res.ContentID = ContentID(batchID, f.name, f.sha256)
		if err := s.store.Put(ctx, res.ContentID, f.data); err != nil {
			return res, fmt.Errorf("store content: %w", err)
		}
	} else {
		res.Status, res.ValidationErrorCode, res.Reason = StatusRejected, rej.code, rej.reason
	}

	msgs := []contracts.Message{{
		EventType: event.TypeBatchFileAddedV1,
		Data: contracts.BatchFileAddedV1{BatchID: batchID, FileUploadID: uploadID, FileName: f.name,
			Size: f.size, Accepted: rej == nil},
	}}
	if rej == nil {
		msgs = append(msgs, contracts.Message{
			EventType: event.TypeEssayContentProvisionedV1,
			Data: contracts.EssayContentProvisionedV1{BatchID: batchID, FileUploadID: uploadID, FileName: f.name,
				ContentID: res.ContentID, Size: f.size, ContentSHA256: f.sha256},
		})
	} else {
		msgs = append(msgs, contracts.Message{
			EventType: event.TypeEssayValidationFailedV1,
			Data: contracts.EssayValidationFailedV1{BatchID: batchID, FileUploadID: uploadID, FileName: f.name,
				ValidationErrorCode: rej.code, Reason: rej.reason, Size: f.size},
		})
	}
	for _, m := range msgs {
		m.Key, m.Identity, m.CorrelationID = batchID, []string{batchID, uploadID}, correlationID
		if err := s.pub.Publish(ctx, m); err != nil {
			return res, err
		}
	}
	return res, nil
}

// readUpload reads the multipart form. Its errors are *httpjson.RequestError
// values naming the problem.
func (s *Service) readUpload(w http.ResponseWriter, r *http.Request) (string, []uploadedFile, error) {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "multipart/form-data" {
		return "", nil, &httpjson.RequestError{Status: http.StatusUnsupportedMediaType, Code: httpjson.CodeUnsupportedMedia,
			Message: fmt.Sprintf("Content-Type must be multipart/form-data with a batch_id field and one or more files, got %q", ct)}
	}
	if err := httpjson.LimitBody(w, r, s.cfg.MaxRequestBytes); err != nil {
		return "", nil, err
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return "", nil, badRequest("", "body is not a multipart form: %v", err)
	}
	var (
		batchID    string
		sawBatchID bool
		files      []uploadedFile
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", nil, readError(err)
		}
		name := part.FormName()
		switch {
		case part.FileName() == "" && name == fieldBatchID:
			v, err := io.ReadAll(io.LimitReader(part, maxBatchIDLen+1))
			if err != nil {
				return "", nil, readError(err)
			}
			batchID, sawBatchID = strings.TrimSpace(string(v)), true
		case name == fieldBatchID:
			return "", nil, badRequest(fieldBatchID, "batch_id must be a plain form field, not a file")
		case name == fieldFiles || name == fieldFile:
			if len(files) == s.cfg.MaxFiles {
				return "", nil, badRequest(fieldFiles, "too many files: at most %d per upload", s.cfg.MaxFiles)
			}
			f, err := s.readFile(part)
			if err != nil {
				return "", nil, err
			}
			files = append(files, f)
		default:
			return "", nil, badRequest(name, "unknown form field %q; the form takes %q and one or more %q", name, fieldBatchID, fieldFiles)
		}
		part.Close()
	}
	if err := checkBatchID(batchID, sawBatchID); err != nil {
		return "", nil, err
	}
	if len(files) == 0 {
		return "", nil, badRequest(fieldFiles, "no files: add one or more file parts named %q", fieldFiles)
	}
	return batchID, files, nil
}

// readFile reads one file part: it hashes all of it and keeps at most
// MaxFileBytes+1 bytes.
func (s *Service) readFile(part *multipart.Part) (uploadedFile, error) {
	name := part.FileName()
	if name == "" || name == "." || name == "/" {
		return uploadedFile{}, badRequest(part.FormName(), "a %q part has no file name; send it as a file with a name", part.FormName())
	}
	h := sha256.New()
	keep := s.cfg.MaxFileBytes + 1
	data, err := io.ReadAll(io.LimitReader(io.TeeReader(part, h), keep))
	if err != nil {
		return uploadedFile{}, readError(err)
	}
	rest, err := io.Copy(h, part)
	if err != nil {
		return uploadedFile{}, readError(err)
	}
	return uploadedFile{name: name, data: data, size: int64(len(data)) + rest, sha256: hex.EncodeToString(h.Sum(nil))}, nil
}

func checkBatchID(id string, present bool) error {
	switch {
	case !present:
		return badRequest(fieldBatchID, "batch_id is required: add a form field batch_id naming the batch the files belong to")
	case id == "":
		return badRequest(fieldBatchID, "batch_id is empty")
	case len(id) > maxBatchIDLen:
		return badRequest(fieldBatchID, "batch_id is longer than %d bytes", maxBatchIDLen)
	case slices.ContainsFunc([]rune(id), unicode.IsControl):
		return badRequest(fieldBatchID, "batch_id %q contains control characters", id)
	}
	return nil
}

func badRequest(field, format string, args ...any) *httpjson.RequestError {
	e := httpjson.BadField(field, format, args...)
	if field == "" {
		e.Code = httpjson.CodeInvalidRequest
	}
	return e
}

// readError maps an error reading the body: the request limit is a 413,
// anything else a malformed form.
func readError(err error) *httpjson.RequestError {
	if re, ok := httpjson.TooLarge(err); ok {
		return re
	}
	return badRequest("", "malformed multipart form: %v", err)
}
