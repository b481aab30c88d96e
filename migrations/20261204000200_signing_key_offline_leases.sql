-- The latest expiry of an offline lease (issueOfflineLease) each key signed: a key retired by a
-- rotation stays published until then at least, since an offline lease can outlive every online
-- one by years. Issuing an offline lease raises it in the transaction that signs the lease.
ALTER TABLE signing_keys ADD COLUMN offline_leases_until timestamptz;
