int vt_dummy(void){return 0;}
