"""Domain → bytes out: the XML form of API answers (`xml`) and the documents 1C fetches (`onec`, `onec_outbound`)."""
