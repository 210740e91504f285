#pragma once
int vt_dummy(void);
