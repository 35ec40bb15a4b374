package contracts

// EssayContentProvisionedV1 says that an uploaded file became essay text
// stored by the File Service. Published by the File Service, consumed by
// Essay Lifecycle, which assigns the content to one of the batch's essay
// slots (the File Service does not know essay ids).
type EssayContentProvisionedV1 struct {
	// BatchID is the batch the file was uploaded to (the original's
	// entity_id).
	BatchID string `json:"batch_id"`
	// FileUploadID identifies this upload: deterministic from the batch,
	// the file name and the content hash, so uploading the same file twice
	// gives the same id.
	FileUploadID string `json:"file_upload_id"`
	// FileName is the name the file was uploaded with (the original's
	// original_file_name).
	FileName string `json:"file_name"`
	// ContentID is where the text is stored: GET /v1/content/{content_id}
	// on the File Service (the original's text_storage_id).
	ContentID string `json:"content_id"`
	// Size is the content's size in bytes (the original's
	// file_size_bytes).
	Size int64 `json:"size"`
	// ContentSHA256 is the hex SHA-256 of the content.
	ContentSHA256 string `json:"content_sha256"`
}

// EssayValidationFailedV1 says that an uploaded file could not become an
// essay. Published by the File Service, consumed by Essay Lifecycle, which
// counts it as a failed essay of the batch so the batch does not wait for
// it.
type EssayValidationFailedV1 struct {
	// BatchID is the batch the file was uploaded to.
	BatchID string `json:"batch_id"`
	// FileUploadID identifies this upload, as in EssayContentProvisionedV1.
	FileUploadID string `json:"file_upload_id"`
	// FileName is the name the file was uploaded with.
	FileName string `json:"file_name"`
	// ValidationErrorCode is one of the Validation* constants.
	ValidationErrorCode string `json:"validation_error_code"`
	// Reason explains the failure to a person.
	Reason string `json:"reason"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
}

// BatchFileAddedV1 says that a file was uploaded to a batch, whether or not
// it passed validation. Published by the File Service for every file, for
// clients and dashboards that follow a batch's uploads.
type BatchFileAddedV1 struct {
	// BatchID is the batch the file was uploaded to.
	BatchID string `json:"batch_id"`
	// FileUploadID identifies this upload.
	FileUploadID string `json:"file_upload_id"`
	// FileName is the name the file was uploaded with.
	FileName string `json:"file_name"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
	// Accepted is true when the file became essay content and false when it
	// failed validation.
	Accepted bool `json:"accepted"`
}
