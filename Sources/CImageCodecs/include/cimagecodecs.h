#pragma once
int vic_dummy(void);
