package fileservice

import (
	"github.com/huleedu/huleedu/event"
)

// FileUploadID returns the id of an upload: deterministic from the batch,
// the file name and the hex SHA-256 of the bytes, so the same file uploaded
// again to the same batch has the same id (and its events the same event
// ids).
func FileUploadID(batchID, fileName, sha256Hex string) string {
	return event.DeterministicID(event.Namespace, "file_upload", batchID, fileName, sha256Hex).String()
}

// ContentID returns the id under which an essay text is stored:
// deterministic from the batch, the file name and the content hash.
func ContentID(batchID, fileName, sha256Hex string) string {
	return event.DeterministicID(event.Namespace, "content", batchID, fileName, sha256Hex).String()
}
