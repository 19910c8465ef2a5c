package audit

// RecordBatch is the batch handler Register gives the bus.
var RecordBatch = (*Service).recordBatch
