// Package fileservice is HuleEdu's File Service: it receives a batch's
// essay files, validates them, stores the text of the valid ones and
// announces every file on the event bus. Other services fetch the texts
// over HTTP (package contentclient).
//
// For every uploaded file it publishes BatchFileAddedV1 and then either
// EssayContentProvisionedV1 (the text is stored under a content id) or
// EssayValidationFailedV1 (empty, larger than Config.MaxFileBytes, or not
// text: invalid UTF-8, NUL bytes, or more than 1% control characters).
//
// Guarantees:
//
//   - Upload ids, content ids and event ids are derived from the batch id,
//     the file name and the SHA-256 of the content: uploading the same file
//     again stores nothing new and publishes events that consumers
//     recognise as duplicates.
//   - 202 means every file's events were accepted by the bus (with the
//     database: committed with the texts, in the outbox). A bus that does
//     not accept one, or a database that is unavailable, gives 503 +
//     Retry-After; repeating the upload is safe.
//   - Bad requests get 400 (missing batch_id, no files, unknown field, too
//     many files), 413 (over MaxRequestBytes) or 415 (not multipart), with
//     a JSON body naming the problem.
//   - Memory per file is bounded by MaxFileBytes, whatever is uploaded.
//
// Persistence: ContentStore, in the service's database (SQLContentStore,
// PostgreSQL or SQLite; see migrations/), or in memory for tests
// (MemoryContentStore). An upload's texts and events commit in one
// transaction: 202 means all of them are stored, an error that none is.
//
// Usage:
//
//	svc, err := fileservice.New(fileservice.Config{MaxFileBytes: 512 << 10},
//		fileservice.Deps{Bus: bus, Logger: logger})
//	if err != nil {
//		return err
//	}
//	mux := http.NewServeMux()
//	svc.Routes(mux)
//	// curl -F batch_id=b-1 -F files=@essay1.txt -F files=@essay2.txt \
//	//      http://127.0.0.1:PORT/v1/files/batch
package fileservice
