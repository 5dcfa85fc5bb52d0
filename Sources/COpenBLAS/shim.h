#include <cblas.h>

// LAPACK's Cholesky factorisation, which libopenblas exports (Debian ships no LAPACK header
// with it). Matrices are column-major, as in Fortran.
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
